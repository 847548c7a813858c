import { sagaFixture } from '@chronicle/testing';
import { DepositMoney } from '../accounts/commands/deposit-money.command.js';
import { RefundMoney } from '../accounts/commands/refund-money.command.js';
import { WithdrawMoney } from '../accounts/commands/withdraw-money.command.js';
import { CompleteTransfer } from './commands/complete-transfer.command.js';
import { FailTransfer } from './commands/fail-transfer.command.js';
import { TransferRequested } from './events/transfer-requested.event.js';
import { MoneyTransferSaga, STEP_TIMEOUT } from './money-transfer.saga.js';

const saga = () => new MoneyTransferSaga({ transferStepTimeoutMs: 30_000 });
const requested = new TransferRequested('t1', 'alice', 'bob', 250);

describe('MoneyTransferSaga', () => {
  it('debits the source, credits the target and completes the transfer, each under its own step id', async () => {
    const expectation = sagaFixture(saga()).when(requested);
    const dispatched = await expectation.thenCommands(new WithdrawMoney('alice', 250), new DepositMoney('bob', 250), new CompleteTransfer('t1'));
    expect(dispatched.map((d) => d.commandId)).toEqual([
      'money-transfer:t1:debit',
      'money-transfer:t1:credit',
      'money-transfer:t1:finish',
    ]);
    await expectation.thenCompleted();
    await expectation.thenDeadlines();
  });

  it('fails the transfer with the reason when the debit is refused, and moves no money', async () => {
    const expectation = sagaFixture(saga()).answer(WithdrawMoney, { rejected: 'Insufficient funds: alice holds 100.' }).when(requested);
    await expectation.thenCommands(new WithdrawMoney('alice', 250), new FailTransfer('t1', 'The debit of alice was refused: Insufficient funds: alice holds 100.'));
    await expectation.thenCompleted();
  });

  it('refunds the source when the credit is refused (target closed or unknown), then fails the transfer', async () => {
    const expectation = sagaFixture(saga()).answer(DepositMoney, { rejected: 'Account bob is closed.' }).when(requested);
    await expectation.thenCommands(
      new WithdrawMoney('alice', 250),
      new DepositMoney('bob', 250),
      new RefundMoney('alice', 250, 't1'),
      new FailTransfer('t1', 'The credit of bob was refused: Account bob is closed.'),
    );
  });

  it('keeps a step whose outcome is unknown and sets the deadline that resends it; nothing is compensated', async () => {
    const expectation = sagaFixture(saga()).answer(DepositMoney, 'unknown').when(requested);
    await expectation.thenCommands(new WithdrawMoney('alice', 250), new DepositMoney('bob', 250));
    await expectation.thenDeadlines({ name: STEP_TIMEOUT, dueInMs: 30_000 });
    await expectation.thenState({ transferId: 't1', from: 'alice', to: 'bob', amount: 250, step: 'credit', resends: 0 });
  });

  it('at the deadline resends the pending step under the same command id, and goes on once it is accepted', async () => {
    let credits = 0;
    const expectation = sagaFixture(saga())
      .answer(DepositMoney, () => (credits++ === 0 ? 'unknown' : 'accepted'))
      .given(requested)
      .whenTimeElapses(30_000);
    const dispatched = await expectation.thenCommands(new DepositMoney('bob', 250), new CompleteTransfer('t1'));
    expect(dispatched[0]?.commandId).toBe('money-transfer:t1:credit');
    await expectation.thenCompleted();
    await expectation.thenDeadlines();
  });

  it('does nothing before the deadline is due', async () => {
    const expectation = sagaFixture(saga()).answer(DepositMoney, 'unknown').given(requested).whenTimeElapses(29_999);
    await expectation.thenCommands();
    await expectation.thenDeadlines({ name: STEP_TIMEOUT, dueInMs: 1 });
  });

  it('ignores a redelivered start event: a finished transfer is a tombstone', async () => {
    await sagaFixture(saga()).given(requested).when(requested).thenCommands();
  });
});
