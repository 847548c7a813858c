import { Event } from '@chronicle/core';

/**
 * Carries the owner's pseudonym tag (since the open-accounts limit), so that the close frees the
 * owner's place. An event stored before it carried no tag, so the limit does not see that close.
 */
@Event('account.closed', { tags: (event: AccountClosed) => (event.ownerTag ? [event.ownerTag] : []) })
export class AccountClosed {
  constructor(
    readonly accountId: string,
    readonly ownerTag?: string,
  ) {}
}
