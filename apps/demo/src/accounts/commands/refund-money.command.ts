/**
 * Gives back money a transfer took from an account: a compensation, so it is accepted even when the
 * account was closed meanwhile (a refund that could be refused would destroy money).
 */
export class RefundMoney {
  constructor(
    readonly accountId: string,
    readonly amount: number,
    readonly transferId: string,
  ) {}
}
