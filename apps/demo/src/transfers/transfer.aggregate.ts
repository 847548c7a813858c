import { Aggregate, Applies, DomainRuleViolation, Handles } from '@chronicle/core';
import { CompleteTransfer } from './commands/complete-transfer.command.js';
import { FailTransfer } from './commands/fail-transfer.command.js';
import { RequestTransfer } from './commands/request-transfer.command.js';
import { TransferCompleted } from './events/transfer-completed.event.js';
import { TransferFailed } from './events/transfer-failed.event.js';
import { TransferRequested } from './events/transfer-requested.event.js';

/** Where a transfer is: the saga moves it from `pending` to `completed` or `failed`, once. */
export type TransferStatus = 'pending' | 'completed' | 'failed';

/** A money transfer's record: what was asked and how it ended. The money moves in the accounts. */
@Aggregate({ name: 'transfer', id: 'transferId' })
export class Transfer {
  id = '';
  from = '';
  to = '';
  amount = 0;
  status: TransferStatus = 'pending';
  reason?: string;

  @Handles(RequestTransfer, { creates: true })
  request(command: RequestTransfer): TransferRequested {
    if (command.from === command.to) {
      throw new DomainRuleViolation(`A transfer needs two different accounts; both are ${command.from}.`, { code: 'transfer.same-account' });
    }
    return new TransferRequested(command.transferId, command.from, command.to, command.amount);
  }

  @Handles(CompleteTransfer)
  complete(): TransferCompleted | [] {
    if (this.status === 'completed') return [];
    this.requirePending('complete');
    return new TransferCompleted(this.id);
  }

  @Handles(FailTransfer)
  fail(command: FailTransfer): TransferFailed | [] {
    if (this.status === 'failed') return [];
    this.requirePending('fail');
    return new TransferFailed(this.id, command.reason);
  }

  @Applies(TransferRequested)
  onRequested(event: TransferRequested): void {
    this.id = event.transferId;
    this.from = event.from;
    this.to = event.to;
    this.amount = event.amount;
  }

  @Applies(TransferCompleted)
  onCompleted(): void {
    this.status = 'completed';
  }

  @Applies(TransferFailed)
  onFailed(event: TransferFailed): void {
    this.status = 'failed';
    this.reason = event.reason;
  }

  private requirePending(action: string): void {
    if (this.status !== 'pending') {
      throw new DomainRuleViolation(`Transfer ${this.id} is ${this.status}; it cannot ${action}.`, { code: 'transfer.finished' });
    }
  }
}
