import { Event } from '@chronicle/core';
import { ownerTag } from '../owner-tag.js';

/** Tagged with its owner, so that the open-accounts limit reads the owner's accounts across their streams. */
@Event('account.opened', { tags: (event: AccountOpened) => [ownerTag(event.owner)] })
export class AccountOpened {
  constructor(
    readonly accountId: string,
    readonly owner: string,
  ) {}
}
