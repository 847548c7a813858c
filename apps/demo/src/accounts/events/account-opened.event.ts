import { Event, PersonalData } from '@chronicle/core';
import { ownerTag } from '../owner-tag.js';

/**
 * An account was opened. The owner's name is personal data, the account its subject: it is stored
 * encrypted with the account's data key, and reads as `null` once the account's owner is forgotten.
 * The event is tagged with the owner's pseudonym (`ownerTag`, kept readable for the open-accounts
 * limit, which reads the owner's accounts across their streams).
 */
@Event('account.opened', { subject: 'accountId', tags: (event: AccountOpened) => [event.ownerTag] })
export class AccountOpened {
  @PersonalData() readonly owner!: string | null;
  /** The owner's pseudonym tag (`ownerTag(owner)`): what the limit and a later close are tagged with. */
  readonly ownerTag: string;

  constructor(
    readonly accountId: string,
    owner: string,
  ) {
    this.owner = owner;
    this.ownerTag = ownerTag(owner);
  }
}
