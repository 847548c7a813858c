/** Adds money (integer cents) to an open account. */
export class DepositMoney {
  constructor(
    readonly accountId: string,
    readonly amount: number,
  ) {}
}
