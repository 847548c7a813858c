/** The tail of a new lane: one settled promise shared by every lane, not one made per lane. */
const SETTLED: Promise<unknown> = Promise.resolve();

interface Lane {
  tail: Promise<unknown>;
  depth: number;
}

/**
 * Runs tasks one at a time per key and concurrently across keys, with a bound on how many may
 * wait per key. Idle keys cost nothing: a lane is dropped when its last task settles.
 */
export class KeyedQueue {
  private readonly lanes = new Map<string, Lane>();

  /** Tasks waiting or running, over all keys. */
  get size(): number {
    let total = 0;
    for (const lane of this.lanes.values()) total += lane.depth;
    return total;
  }

  /** How many tasks are queued or running for a key. */
  depth(key: string): number {
    return this.lanes.get(key)?.depth ?? 0;
  }

  /** Queues a task behind the key's earlier tasks; the caller checks `depth` against its bound first. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { tail: SETTLED, depth: 0 };
      this.lanes.set(key, lane);
    }
    const current = lane;
    current.depth++;
    const result = current.tail.then(task);
    current.tail = result.then(
      () => this.release(key, current),
      () => this.release(key, current),
    );
    return result;
  }

  /** Resolves when every task queued so far has settled. */
  async drain(): Promise<void> {
    while (this.lanes.size > 0) {
      await Promise.all([...this.lanes.values()].map((lane) => lane.tail));
    }
  }

  private release(key: string, lane: Lane): void {
    lane.depth--;
    if (lane.depth === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
  }
}
