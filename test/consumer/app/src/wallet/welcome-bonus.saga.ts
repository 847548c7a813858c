import { Injectable } from '@nestjs/common';
import { Saga, StartsSaga, type SagaContext } from '@chronicle/core';
import { Deposit } from './wallet.commands.js';
import { WalletOpened } from './wallet.events.js';

export const WELCOME_BONUS = 5;

/** Every new wallet gets a bonus: one command under a fixed key, so a redelivery is deduplicated. */
@Saga({ name: 'welcome-bonus' })
@Injectable()
export class WelcomeBonusSaga {
  @StartsSaga(WalletOpened, { associate: 'walletId' })
  async start(event: WalletOpened, ctx: SagaContext<{ walletId: string }>): Promise<void> {
    ctx.state = { walletId: event.walletId };
    const outcome = await ctx.dispatch(new Deposit(event.walletId, WELCOME_BONUS), { key: 'bonus' });
    if (outcome.status === 'unknown') throw new Error(`The bonus of ${event.walletId} has an unknown outcome; retry.`);
    ctx.complete();
  }
}
