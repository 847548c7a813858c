import type { FeedCursor } from '../ports/journal.port.js';
import { LruCache } from './lru-cache.js';

/** What a decision folded from its query's events, and where that read ended. */
export interface DecisionStateEntry {
  /** The folded state (the cache's own: never handed to a decision). */
  state: unknown;
  /** The `next` cursor of the read the state was folded up to. */
  next: FeedCursor;
  /** How many events matched the query up to `next`. */
  matched: number;
}

/**
 * The states of recent decisions by handler and query, so that the next decision on the same query
 * reads only the events committed since (`readByQuery(query, { after: next })`) instead of every
 * matching event. Sound for the same reason an append condition is: a read's `next` is a point up to
 * which the journal saw every committed event (on PostgreSQL, the feed's bound, never beyond a
 * transaction still in flight), so the events before it plus those read after it are exactly the
 * events a full read would return. Other processes' commits are therefore seen; only the fold is
 * saved. A decision takes its entry out while it folds onto it, so an evolver that throws half way
 * leaves nothing behind, and decisions on one query take turns in a process (the gateway's queue).
 */
export class DecisionStateCache {
  private readonly entries: LruCache<string, DecisionStateEntry>;

  /** @param capacity most entries kept (least recently used are dropped); 0 keeps none. */
  constructor(readonly capacity: number) {
    this.entries = new LruCache(Math.max(1, capacity));
  }

  /** Entries held now. */
  get size(): number {
    return this.capacity === 0 ? 0 : this.entries.size;
  }

  /** Takes a handler's entry for a query out of the cache (the caller puts it back, folded further). */
  take(handler: string, queryKey: string): DecisionStateEntry | undefined {
    if (this.capacity === 0) return undefined;
    const key = `${handler}\u0000${queryKey}`;
    const entry = this.entries.get(key);
    if (entry !== undefined) this.entries.delete(key);
    return entry;
  }

  /** Keeps a folded state for the next decision of the handler on the query. */
  put(handler: string, queryKey: string, entry: DecisionStateEntry): void {
    if (this.capacity > 0) this.entries.set(`${handler}\u0000${queryKey}`, entry);
  }

  /** Drops every entry (after a `forget`, say: a state may hold what was forgotten). */
  clear(): void {
    this.entries.clear();
  }
}
