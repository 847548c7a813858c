import { Event } from '@chronicle/core';

@Event('transfer.failed')
export class TransferFailed {
  constructor(
    readonly transferId: string,
    readonly reason: string,
  ) {}
}
