/**
 * A first-come-first-served async mutex. Each holder runs alone; the next one starts only
 * after the previous one settled, whether it resolved or threw.
 *
 * Not re-entrant: a holder that awaits another `runExclusive` on the same mutex waits for
 * itself forever. Library code inside a unit of work therefore uses the transaction's
 * EntityManager, never another library call that takes the lock.
 */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** How many callers hold or wait for the lock (the holder included). */
  get pending(): number {
    return this.waiting;
  }

  /** Runs `work` once every earlier holder has finished, and returns its result. */
  async runExclusive<T>(work: () => Promise<T>): Promise<T> {
    this.waiting += 1;
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await previous;
      return await work();
    } finally {
      this.waiting -= 1;
      release();
    }
  }
}
