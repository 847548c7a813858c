import { Event } from '@chronicle/core';
import { ownerTag } from '../owner-tag.js';

/**
 * Carries the owner (since the open-accounts limit): its tag frees the owner's place. An event
 * stored before it carried no owner and no tag, so the limit does not see that close.
 */
@Event('account.closed', { tags: (event: AccountClosed) => (event.owner ? [ownerTag(event.owner)] : []) })
export class AccountClosed {
  constructor(
    readonly accountId: string,
    readonly owner: string,
  ) {}
}
