import type { DataSource } from 'typeorm';

/**
 * PostgreSQL: the queries (as pg_stat_activity shows them) of the sessions waiting for an advisory
 * lock that the backend `holderPid` holds, such as a conditional append waiting for the decision
 * locks of a unit held open (`holdStream`'s `entered` gives its pid). Empty when none waits.
 * Other sessions on a shared server are not counted: only those `holderPid` blocks.
 */
export async function advisoryLockWaiters(observer: DataSource, holderPid: number): Promise<string[]> {
  const rows = (await observer.query(
    "SELECT a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted AND $1 = ANY(pg_blocking_pids(l.pid))",
    [holderPid],
  )) as Array<{ query: string }>;
  return rows.map((row) => row.query);
}

/**
 * Polls {@link advisoryLockWaiters} until a session waits for `holderPid`'s advisory lock or
 * `timeoutMs` passed, and returns the last answer (empty: none waited), for the test to assert
 * on. A test that releases the holder only then knows the other unit reached its lock before the
 * holder committed, however slow the machine.
 */
export async function waitForAdvisoryLockWaiters(observer: DataSource, holderPid: number, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const waiters = await advisoryLockWaiters(observer, holderPid);
    if (waiters.length > 0 || Date.now() >= deadline) return waiters;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
