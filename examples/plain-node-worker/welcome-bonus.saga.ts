import { Saga, StartsSaga, type SagaContext } from '@chronicle/core';
import { AccountOpened, Deposit } from './account.aggregate.js';

/** The bonus every new account gets. */
export const WELCOME_BONUS = 10;

/**
 * Credits a welcome bonus to every new account: a saga instance per account, started by its
 * opening, which sends one command (with a deterministic command id, so a redelivery does not pay
 * twice) and completes.
 */
@Saga({ name: 'welcome-bonus' })
export class WelcomeBonusSaga {
  @StartsSaga(AccountOpened, { associate: 'accountId' })
  async opened(event: AccountOpened, ctx: SagaContext): Promise<void> {
    await ctx.dispatch(new Deposit(event.accountId, WELCOME_BONUS));
    ctx.complete();
  }
}
