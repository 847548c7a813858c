import { Event } from '@chronicle/core';

@Event('transfer.completed')
export class TransferCompleted {
  constructor(readonly transferId: string) {}
}
