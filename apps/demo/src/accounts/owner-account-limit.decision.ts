import { Inject, Injectable } from '@nestjs/common';
import { Decides, DecisionHandler, DomainRuleViolation, Evolves } from '@chronicle/core';
import type { DemoConfig } from '../config/demo-config.js';
import { DEMO_CONFIG } from '../outbox/demo-config.token.js';
import { Account } from './account.aggregate.js';
import { OpenAccount } from './commands/open-account.command.js';
import { AccountClosed } from './events/account-closed.event.js';
import { AccountOpened } from './events/account-opened.event.js';
import { ownerTag } from './owner-tag.js';

/** The default of `CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER`. */
export const DEFAULT_MAX_OPEN_ACCOUNTS_PER_OWNER = 5;

/** An owner's open accounts, as the decision sees them. */
export interface OwnerAccounts {
  open: string[];
}

/**
 * An owner holds at most `maxOpenAccountsPerOwner` open accounts. The rule spans the owner's
 * account streams, so opening is a decision on the owner's `account.opened` and `account.closed`
 * events (tagged with the owner's pseudonym, `ownerTag`), appended on the condition that none came since the read: opens
 * racing on two instances cannot both take the last place. Closing stays the account's own
 * command: it only frees places, so it needs no condition.
 */
@Injectable()
@DecisionHandler<OwnerAccounts>({ name: 'owner_accounts', initialState: () => ({ open: [] }) })
export class OwnerAccountLimit {
  readonly limit: number;

  constructor(@Inject(DEMO_CONFIG) config: DemoConfig) {
    this.limit = config.maxOpenAccountsPerOwner ?? DEFAULT_MAX_OPEN_ACCOUNTS_PER_OWNER;
  }

  @Evolves(AccountOpened)
  opened(state: OwnerAccounts, event: AccountOpened): void {
    state.open.push(event.accountId);
  }

  @Evolves(AccountClosed)
  closed(state: OwnerAccounts, event: AccountClosed): void {
    state.open = state.open.filter((id) => id !== event.accountId);
  }

  @Decides(OpenAccount, { tags: (command: OpenAccount) => [ownerTag(command.owner)], aggregate: Account, id: 'accountId', creates: true })
  open(command: OpenAccount, state: OwnerAccounts): AccountOpened {
    if (state.open.length >= this.limit) {
      throw new DomainRuleViolation(
        `The owner already holds ${state.open.length} open accounts, the most an owner may hold ` +
          `(CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER=${this.limit}); close one to open another.`,
        { code: 'account.open-limit', details: { limit: this.limit, open: state.open.length } },
      );
    }
    return new AccountOpened(command.accountId, command.owner);
  }
}
