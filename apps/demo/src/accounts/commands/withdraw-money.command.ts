/** Takes money (integer cents) from an open account that holds enough. */
export class WithdrawMoney {
  constructor(
    readonly accountId: string,
    readonly amount: number,
  ) {}
}
