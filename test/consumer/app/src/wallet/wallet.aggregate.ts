import { Aggregate, Applies, DomainRuleViolation, Handles } from '@chronicle/core';
import { Deposit, OpenWallet, Withdraw } from './wallet.commands.js';
import { MoneyDeposited, MoneyWithdrawn, WalletOpened } from './wallet.events.js';

@Aggregate({ name: 'wallet', id: 'walletId' })
export class Wallet {
  owner = '';
  balance = 0;

  @Handles(OpenWallet, { creates: true })
  open(command: OpenWallet): WalletOpened {
    return new WalletOpened(command.walletId, command.owner);
  }

  @Handles(Deposit)
  deposit(command: Deposit): MoneyDeposited {
    return new MoneyDeposited(command.walletId, command.amount);
  }

  @Handles(Withdraw)
  withdraw(command: Withdraw): MoneyWithdrawn {
    if (command.amount > this.balance) {
      throw new DomainRuleViolation(`Insufficient funds: the wallet holds ${this.balance}, the withdrawal is ${command.amount}.`);
    }
    return new MoneyWithdrawn(command.walletId, command.amount);
  }

  @Applies(WalletOpened)
  onOpened(event: WalletOpened): void {
    this.owner = event.owner;
  }

  @Applies(MoneyDeposited)
  onDeposited(event: MoneyDeposited): void {
    this.balance += event.amount;
  }

  @Applies(MoneyWithdrawn)
  onWithdrawn(event: MoneyWithdrawn): void {
    this.balance -= event.amount;
  }
}
