import { Injectable } from '@nestjs/common';
import { On, Projection } from '@chronicle/core';
import { MoneyDeposited, MoneyWithdrawn, WalletOpened } from './wallet.events.js';

/** A read model in memory (at-least-once is enough for it): balance per wallet. */
@Projection({ name: 'consumer-balances' })
@Injectable()
export class BalancesProjection {
  readonly balances = new Map<string, number>();

  @On(WalletOpened)
  opened(event: WalletOpened): void {
    this.balances.set(event.walletId, 0);
  }

  @On(MoneyDeposited)
  deposited(event: MoneyDeposited): void {
    this.balances.set(event.walletId, (this.balances.get(event.walletId) ?? 0) + event.amount);
  }

  @On(MoneyWithdrawn)
  withdrawn(event: MoneyWithdrawn): void {
    this.balances.set(event.walletId, (this.balances.get(event.walletId) ?? 0) - event.amount);
  }
}
