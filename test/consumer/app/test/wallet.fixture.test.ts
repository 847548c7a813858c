import { test } from 'node:test';
import { DomainRuleViolation } from '@chronicle/core';
import { aggregateFixture } from '@chronicle/testing';
import { Deposit, Withdraw } from '../src/wallet/wallet.commands.js';
import { MoneyDeposited, MoneyWithdrawn, WalletOpened } from '../src/wallet/wallet.events.js';
import { Wallet } from '../src/wallet/wallet.aggregate.js';

// @chronicle/testing's fixtures under node --test: no Jest anywhere in this application.
test('a wallet pays out what it holds', async () => {
  await aggregateFixture(Wallet)
    .given(new WalletOpened('w1', 'Ada'), new MoneyDeposited('w1', 10))
    .when(new Withdraw('w1', 4))
    .thenEvents(new MoneyWithdrawn('w1', 4));
});

test('a wallet refuses to pay out more than it holds', async () => {
  await aggregateFixture(Wallet)
    .given(new WalletOpened('w1', 'Ada'))
    .when(new Deposit('w1', 3))
    .thenEvents(new MoneyDeposited('w1', 3));
  await aggregateFixture(Wallet)
    .given(new WalletOpened('w1', 'Ada'), new MoneyDeposited('w1', 3))
    .when(new Withdraw('w1', 4))
    .thenThrows(DomainRuleViolation, /Insufficient funds/);
});
