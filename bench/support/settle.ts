import { busyPercent, readCpuTimes } from './cpu-times.js';
import { pgQuery } from './postgres.js';

/** How `settleMachine` left the machine for the next scenario. */
export interface Settled {
  /** How long it waited for the machine to go quiet, in milliseconds. */
  waitedMs: number;
  /** Whether PostgreSQL took the CHECKPOINT (false: not reachable, or the role may not checkpoint). */
  checkpointed: boolean;
  /** The machine's CPU busy share over the last second of the wait, in percent (all cores), if known. */
  busyPct?: number;
}

/** Busy share (all cores) below which the machine counts as quiet. */
const QUIET_BUSY_PCT = 15;
/** The longest wait: a machine that never goes quiet is measured anyway, and the footer says how busy it was. */
const MAX_WAIT_MS = 60_000;

/**
 * Waits, before a scenario, for what the one before left running to finish: PostgreSQL writes its
 * dirty pages (a CHECKPOINT, when it is reachable), then the machine's CPU must stay under
 * QUIET_BUSY_PCT busy for one second (autovacuum of the last scenario's tables, a process still
 * exiting), for at most MAX_WAIT_MS. A figure measured while the other core is busy with leftovers
 * is lower for reasons that are not the code's.
 */
export async function settleMachine(postgres: boolean): Promise<Settled> {
  const started = performance.now();
  // CHECKPOINT needs a superuser or pg_checkpoint; without it the wait below still runs.
  const checkpointed = postgres ? await pgQuery('CHECKPOINT').then(() => true, () => false) : false;
  let busyPct: number | undefined;
  for (;;) {
    const before = readCpuTimes();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    busyPct = busyPercent(before, readCpuTimes());
    if (busyPct === undefined || busyPct < QUIET_BUSY_PCT || performance.now() - started >= MAX_WAIT_MS) break;
  }
  return { waitedMs: Math.round(performance.now() - started), checkpointed, ...(busyPct === undefined ? {} : { busyPct }) };
}
