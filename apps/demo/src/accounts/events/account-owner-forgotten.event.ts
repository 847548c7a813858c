import { Event } from '@chronicle/core';

/**
 * The account owner's personal data was erased (its data key destroyed). Carries no personal data:
 * it tells the aggregate and the read models to drop what they hold of the owner.
 */
@Event('account.owner-forgotten')
export class AccountOwnerForgotten {
  constructor(readonly accountId: string) {}
}
