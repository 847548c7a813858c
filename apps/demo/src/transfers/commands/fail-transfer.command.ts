/** Records that the transfer did not happen (the source kept or got back its money). */
export class FailTransfer {
  constructor(
    readonly transferId: string,
    readonly reason: string,
  ) {}
}
