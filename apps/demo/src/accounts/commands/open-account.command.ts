/** Opens an account for an owner. */
export class OpenAccount {
  constructor(
    readonly accountId: string,
    readonly owner: string,
  ) {}
}
