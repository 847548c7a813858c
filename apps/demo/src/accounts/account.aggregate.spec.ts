import { AggregateNotFoundError, DomainRuleViolation } from '@chronicle/core';
import { aggregateFixture } from '@chronicle/testing';
import { Account } from './account.aggregate.js';
import { CloseAccount } from './commands/close-account.command.js';
import { DepositMoney } from './commands/deposit-money.command.js';
import { RefundMoney } from './commands/refund-money.command.js';
import { WithdrawMoney } from './commands/withdraw-money.command.js';
import { AccountClosed } from './events/account-closed.event.js';
import { AccountOpened } from './events/account-opened.event.js';
import { MoneyDeposited } from './events/money-deposited.event.js';
import { MoneyRefunded } from './events/money-refunded.event.js';
import { MoneyWithdrawn } from './events/money-withdrawn.event.js';
import { ownerTag } from './owner-tag.js';

describe('Account', () => {
  const account = () => aggregateFixture(Account);
  const opened = new AccountOpened('a1', 'Ada');

  it('refuses commands to a missing account (opening is the OwnerAccountLimit decision)', async () => {
    await account().given().when(new DepositMoney('a1', 5)).thenThrows(AggregateNotFoundError, 'account "a1" does not exist');
  });

  it('deposits and withdraws', async () => {
    await account().given(opened).when(new DepositMoney('a1', 250)).thenEvents(new MoneyDeposited('a1', 250));
    await account().given(opened, new MoneyDeposited('a1', 250)).when(new WithdrawMoney('a1', 100)).thenEvents(new MoneyWithdrawn('a1', 100));
    await account()
      .given(opened, new MoneyDeposited('a1', 250), new MoneyWithdrawn('a1', 100))
      .when(new DepositMoney('a1', 1))
      .thenState((state) => expect(state).toMatchObject({ id: 'a1', owner: 'Ada', balance: 151, closed: false }));
  });

  it('refuses a withdrawal beyond the balance, naming both amounts', async () => {
    await account()
      .given(opened, new MoneyDeposited('a1', 100))
      .when(new WithdrawMoney('a1', 150))
      .thenThrows(DomainRuleViolation, 'Insufficient funds: account a1 holds 100, the withdrawal is 150.');
  });

  it('closes for good: later commands are refused', async () => {
    await account().given(opened).when(new CloseAccount('a1')).thenEvents(new AccountClosed('a1', ownerTag('Ada')));
    for (const command of [new DepositMoney('a1', 1), new WithdrawMoney('a1', 1), new CloseAccount('a1')]) {
      await account().given(opened, new AccountClosed('a1', ownerTag('Ada'))).when(command).thenThrows(DomainRuleViolation, 'Account a1 is closed.');
    }
  });

  it('the fixture fails when the expectation is wrong', async () => {
    await expect(account().given(opened).when(new DepositMoney('a1', 5)).thenEvents(new MoneyDeposited('a1', 6))).rejects.toThrow(
      'The command produced other events than expected.',
    );
    await expect(account().given(opened).when(new DepositMoney('a1', 5)).thenThrows(DomainRuleViolation)).rejects.toThrow(
      'Expected DomainRuleViolation, but the command was accepted with 1 event(s): MoneyDeposited',
    );
    await expect(account().given(opened).when(new WithdrawMoney('a1', 5)).thenEvents()).rejects.toThrow(/Expected events, but the command was refused/);
  });

  it('accepts a refund even when the account was closed after the debit: a compensation must not fail', async () => {
    await account()
      .given(opened, new MoneyDeposited('a1', 10), new MoneyWithdrawn('a1', 10), new AccountClosed('a1', ownerTag('Ada')))
      .when(new RefundMoney('a1', 10, 't1'))
      .thenEvents(new MoneyRefunded('a1', 10, 't1'));
  });
});
