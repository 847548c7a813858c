import { Event, PersonalData } from '@chronicle/core';

/**
 * An account was opened. The owner's name is personal data, the account its subject: it is stored
 * encrypted with the account's data key, and reads as `null` once the account's owner is forgotten.
 */
@Event('account.opened', { subject: 'accountId' })
export class AccountOpened {
  @PersonalData() readonly owner!: string | null;

  constructor(
    readonly accountId: string,
    owner: string,
  ) {
    this.owner = owner;
  }
}
