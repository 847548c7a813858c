/** Closes an account; later commands to it are refused. */
export class CloseAccount {
  constructor(readonly accountId: string) {}
}
