import { Event } from '@chronicle/core';

@Event('transfer.requested')
export class TransferRequested {
  constructor(
    readonly transferId: string,
    readonly from: string,
    readonly to: string,
    readonly amount: number,
  ) {}
}
