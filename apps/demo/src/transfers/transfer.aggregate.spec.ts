import { DomainRuleViolation } from '@chronicle/core';
import { aggregateFixture } from '@chronicle/testing';
import { CompleteTransfer } from './commands/complete-transfer.command.js';
import { FailTransfer } from './commands/fail-transfer.command.js';
import { RequestTransfer } from './commands/request-transfer.command.js';
import { TransferCompleted } from './events/transfer-completed.event.js';
import { TransferFailed } from './events/transfer-failed.event.js';
import { TransferRequested } from './events/transfer-requested.event.js';
import { Transfer } from './transfer.aggregate.js';

describe('Transfer', () => {
  const transfer = () => aggregateFixture(Transfer);
  const requested = new TransferRequested('t1', 'a', 'b', 10);

  it('records a request', async () => {
    await transfer().given().when(new RequestTransfer('t1', 'a', 'b', 10)).thenEvents(requested);
  });

  it('refuses a transfer from an account to itself', async () => {
    await transfer().given().when(new RequestTransfer('t1', 'a', 'a', 10)).thenThrows(DomainRuleViolation, /two different accounts/);
  });

  it('completes or fails once; repeating the same ending changes nothing, the other ending is refused', async () => {
    await transfer().given(requested).when(new CompleteTransfer('t1')).thenEvents(new TransferCompleted('t1'));
    await transfer().given(requested, new TransferCompleted('t1')).when(new CompleteTransfer('t1')).thenNothing();
    await transfer().given(requested, new TransferCompleted('t1')).when(new FailTransfer('t1', 'x')).thenThrows(DomainRuleViolation, /completed/);
    await transfer()
      .given(requested, new TransferFailed('t1', 'no money'))
      .when(new FailTransfer('t1', 'no money'))
      .thenNothing();
    await transfer().given(requested).when(new FailTransfer('t1', 'no money')).thenState((t) => expect(t).toMatchObject({ status: 'failed', reason: 'no money' }));
  });
});
