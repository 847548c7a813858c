import { Event } from '@chronicle/core';

@Event('account.closed')
export class AccountClosed {
  constructor(readonly accountId: string) {}
}
