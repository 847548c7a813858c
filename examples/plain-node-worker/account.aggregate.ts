import { Aggregate, Applies, DomainRuleViolation, Event, Handles } from '@chronicle/core';

export class OpenAccount {
  constructor(readonly accountId: string, readonly owner: string) {}
}
export class Deposit {
  constructor(readonly accountId: string, readonly amount: number) {}
}
export class Withdraw {
  constructor(readonly accountId: string, readonly amount: number) {}
}

@Event('account.opened')
export class AccountOpened {
  constructor(readonly accountId: string, readonly owner: string) {}
}
@Event('account.deposited')
export class Deposited {
  constructor(readonly accountId: string, readonly amount: number) {}
}
@Event('account.withdrawn')
export class Withdrawn {
  constructor(readonly accountId: string, readonly amount: number) {}
}

/** A bank account whose balance never goes below zero. */
@Aggregate({ name: 'account', id: 'accountId' })
export class Account {
  owner = '';
  balance = 0;

  @Handles(OpenAccount, { creates: true })
  open(command: OpenAccount) {
    return new AccountOpened(command.accountId, command.owner);
  }

  @Handles(Deposit)
  deposit(command: Deposit) {
    if (command.amount <= 0) throw new DomainRuleViolation('a deposit must be positive', { code: 'account.amount' });
    return new Deposited(command.accountId, command.amount);
  }

  @Handles(Withdraw)
  withdraw(command: Withdraw) {
    if (command.amount > this.balance) {
      throw new DomainRuleViolation(`insufficient funds: balance ${this.balance}`, { code: 'account.insufficient-funds' });
    }
    return new Withdrawn(command.accountId, command.amount);
  }

  @Applies(AccountOpened) opened(event: AccountOpened) {
    this.owner = event.owner;
  }
  @Applies(Deposited) deposited(event: Deposited) {
    this.balance += event.amount;
  }
  @Applies(Withdrawn) withdrawn(event: Withdrawn) {
    this.balance -= event.amount;
  }
}
