import { Aggregate, Applies, DomainRuleViolation, Handles, Invariant } from '@chronicle/core';
import { CloseAccount } from './commands/close-account.command.js';
import { DepositMoney } from './commands/deposit-money.command.js';
import { ForgetAccountOwner } from './commands/forget-account-owner.command.js';
import { RefundMoney } from './commands/refund-money.command.js';
import { WithdrawMoney } from './commands/withdraw-money.command.js';
import { AccountClosed } from './events/account-closed.event.js';
import { AccountOpened } from './events/account-opened.event.js';
import { AccountOwnerForgotten } from './events/account-owner-forgotten.event.js';
import { MoneyDeposited } from './events/money-deposited.event.js';
import { MoneyRefunded } from './events/money-refunded.event.js';
import { MoneyWithdrawn } from './events/money-withdrawn.event.js';

/**
 * A bank account: integer cents, never negative, closed for good once closed. Opening is the
 * `OwnerAccountLimit` decision's (it spans the owner's accounts); this aggregate applies it.
 */
@Aggregate({ name: 'account', id: 'accountId', snapshot: { every: 100, keep: 2 } })
export class Account {
  id = '';
  /** Personal data: `null` once forgotten. */
  owner: string | null = '';
  ownerForgotten = false;
  /** The owner's pseudonym tag, readable after a forget: a close still frees the owner's place. */
  ownerTag: string | undefined;
  balance = 0;
  closed = false;

  @Handles(DepositMoney)
  deposit(command: DepositMoney): MoneyDeposited {
    this.requireOpen();
    return new MoneyDeposited(command.accountId, command.amount);
  }

  @Handles(WithdrawMoney)
  withdraw(command: WithdrawMoney): MoneyWithdrawn {
    this.requireOpen();
    if (command.amount > this.balance) {
      throw new DomainRuleViolation(
        `Insufficient funds: account ${this.id} holds ${this.balance}, the withdrawal is ${command.amount}.`,
        { code: 'account.insufficient-funds', details: { balance: this.balance, amount: command.amount } },
      );
    }
    return new MoneyWithdrawn(command.accountId, command.amount);
  }

  @Handles(RefundMoney)
  refund(command: RefundMoney): MoneyRefunded {
    // No open check: a compensation must not fail because the account closed after the debit.
    return new MoneyRefunded(command.accountId, command.amount, command.transferId);
  }

  @Handles(CloseAccount)
  close(): AccountClosed {
    this.requireOpen();
    return new AccountClosed(this.id, this.ownerTag);
  }

  @Handles(ForgetAccountOwner)
  forgetOwner(): AccountOwnerForgotten[] {
    // No open check: erasure applies to closed accounts too. Once recorded, nothing more to write.
    return this.ownerForgotten ? [] : [new AccountOwnerForgotten(this.id)];
  }

  @Applies(AccountOpened)
  onOpened(event: AccountOpened): void {
    this.id = event.accountId;
    this.owner = event.owner;
    this.ownerTag = event.ownerTag;
  }

  @Applies(MoneyDeposited)
  onDeposited(event: MoneyDeposited): void {
    this.balance += event.amount;
  }

  @Applies(MoneyWithdrawn)
  onWithdrawn(event: MoneyWithdrawn): void {
    this.balance -= event.amount;
  }

  @Applies(MoneyRefunded)
  onRefunded(event: MoneyRefunded): void {
    this.balance += event.amount;
  }

  @Applies(AccountOwnerForgotten)
  onOwnerForgotten(): void {
    this.owner = null;
    this.ownerForgotten = true;
  }

  @Applies(AccountClosed)
  onClosed(): void {
    this.closed = true;
  }

  @Invariant()
  balanceIsExact(): string | undefined {
    if (this.balance < 0) return `The balance of account ${this.id} would become negative.`;
    if (!Number.isSafeInteger(this.balance)) return `The balance of account ${this.id} would exceed ${Number.MAX_SAFE_INTEGER} cents.`;
    return undefined;
  }

  private requireOpen(): void {
    if (this.closed) {
      throw new DomainRuleViolation(`Account ${this.id} is closed.`, { code: 'account.closed' });
    }
  }
}
