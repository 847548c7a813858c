import { Event } from '@chronicle/core';

@Event('account.money-deposited')
export class MoneyDeposited {
  constructor(
    readonly accountId: string,
    readonly amount: number,
  ) {}
}
