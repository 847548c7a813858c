import { Event } from '@chronicle/core';

@Event('account.money-refunded')
export class MoneyRefunded {
  constructor(
    readonly accountId: string,
    readonly amount: number,
    readonly transferId: string,
  ) {}
}
