/** Asks to move `amount` cents from one account to another; the money-transfer saga carries it out. */
export class RequestTransfer {
  constructor(
    readonly transferId: string,
    readonly from: string,
    readonly to: string,
    readonly amount: number,
  ) {}
}
