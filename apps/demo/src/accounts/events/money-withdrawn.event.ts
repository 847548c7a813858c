import { Event } from '@chronicle/core';

@Event('account.money-withdrawn')
export class MoneyWithdrawn {
  constructor(
    readonly accountId: string,
    readonly amount: number,
  ) {}
}
