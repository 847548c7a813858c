import { Event } from '@chronicle/core';

@Event('account.opened')
export class AccountOpened {
  constructor(
    readonly accountId: string,
    readonly owner: string,
  ) {}
}
