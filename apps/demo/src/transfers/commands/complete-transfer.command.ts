/** Records that the money reached the target account. */
export class CompleteTransfer {
  constructor(readonly transferId: string) {}
}
