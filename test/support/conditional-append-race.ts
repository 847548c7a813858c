import type { DataSource } from 'typeorm';
import type { Journal } from '@chronicle/core';
import type { TypeOrmJournal } from '@chronicle/typeorm';
import { waitForAdvisoryLockWaiters } from './advisory-lock-waiters.js';
import { conditionalAppend, openedWrite, ownerQuery } from './conditional-appends.js';
import { holdStream } from './held-unit-gate.js';

/** What `raceConditionalAppends` saw: the waiters on the held unit, and each append's outcome. */
export interface ConditionalAppendRace {
  /** Sessions that were waiting for the held unit's advisory lock when it was released. */
  waiting: string[];
  /** The held unit's outcome: 'committed' or the error it failed with. */
  first: unknown;
  /** The second unit's outcome: 'committed' or the error it failed with. */
  second: unknown;
}

/**
 * Two conditional appends made on one read of owner "ann": `holder`'s is held open with its locks
 * taken and its event written; `waiter`'s (which may be another journal over the same tables) is
 * sent then, and the first is released only once the second waits for its advisory lock (polled
 * through `observer`, 10 s at most), so the first commits while the second's transaction is open.
 * Sound decision locks make the second fail with a conflict.
 */
export async function raceConditionalAppends(holder: TypeOrmJournal, waiter: Journal, observer: DataSource): Promise<ConditionalAppendRace> {
  const query = ownerQuery('ann');
  const gate = holdStream(holder, 'held');
  const { next } = await holder.readByQuery(query);
  const outcome = (append: Promise<unknown>): Promise<unknown> => append.then(() => 'committed', (error: unknown) => error);
  const first = outcome(holder.append(conditionalAppend(query, next, openedWrite(['owner:ann'], 'held'))));
  const { pid } = await gate.entered;
  const second = outcome(waiter.append(conditionalAppend(query, next, openedWrite(['owner:ann']))));
  const waiting = await waitForAdvisoryLockWaiters(observer, pid);
  gate.open();
  return { waiting, first: await first, second: await second };
}
