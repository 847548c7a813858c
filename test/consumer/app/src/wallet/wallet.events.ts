import { Event } from '@chronicle/core';

@Event('wallet.opened')
export class WalletOpened {
  constructor(readonly walletId: string, readonly owner: string) {}
}

@Event('wallet.deposited')
export class MoneyDeposited {
  constructor(readonly walletId: string, readonly amount: number) {}
}

@Event('wallet.withdrawn')
export class MoneyWithdrawn {
  constructor(readonly walletId: string, readonly amount: number) {}
}
