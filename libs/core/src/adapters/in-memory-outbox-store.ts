import { ConfigurationError } from '../errors/configuration.error.js';
import type { EventMetadata } from '../events/event-metadata.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { outboxAggregateId, outboxSubscriptionReceives } from '../outbox/outbox-routing.js';
import {
  checkBackfillEvents,
  checkDate,
  checkError,
  checkIds,
  checkOwner,
  checkPositiveInteger,
  checkSubscription,
  invalidRequest,
  unknownHandler,
} from '../outbox/outbox-request-checks.js';
import type { Clock } from '../ports/clock.port.js';
import { systemClock } from '../ports/clock.port.js';
import type { AppendRequest, AppendResult } from '../ports/journal.port.js';
import type {
  ClaimOptions,
  OutboxEntry,
  OutboxHandlerState,
  OutboxStats,
  OutboxStore,
  OutboxSubscription,
} from '../ports/outbox-store.port.js';
import { compareCodePoints } from './code-point-order.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';
import { timeOrderedId } from '../events/time-ordered-id.js';

/** Options of {@link InMemoryOutboxStore}. */
export interface InMemoryOutboxStoreOptions {
  /** Time source of leases, backoff and bookkeeping timestamps. @default systemClock */
  clock?: Clock;
}

/**
 * An entry as kept in memory: payload and metadata as JSON text and times as epoch
 * milliseconds, so no caller can reach a stored object.
 */
interface StoredEntry {
  readonly id: string;
  readonly handler: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly streamId: string;
  readonly version: number;
  readonly eventId: string;
  readonly eventType: string;
  readonly schemaVersion: number;
  readonly payload: string | undefined;
  readonly metadata: string;
  readonly occurredAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
  leaseOwner?: string;
  leaseUntil?: number;
  publishedAt?: number;
  deadLetteredAt?: number;
}

interface HandlerRecord {
  readonly startFrom: 'now' | 'beginning';
  backfillCursor: string | null;
  readyAt?: number;
  readonly registeredAt: number;
}

const DEFAULT_DEAD_LETTER_LIMIT = 100;

/**
 * The outbox in process memory, for unit tests and the demo without a database; the reference
 * behaviour of the `OutboxStore` contract. Add it to an `InMemoryJournal` with
 * `journal.addParticipant(store)`: entries are prepared in `participate` and stored by the unit's
 * `onCommit`, so a unit that rolls back leaves none.
 *
 * Claims follow the same rules as the SQL stores: per aggregate, the head (lowest unpublished
 * version) when it is due, not dead-lettered and not under an unexpired lease (whoever holds it),
 * then the unbroken run of eligible entries after it. Heads are taken round-robin over aggregates
 * (starting after the aggregate the previous claim of this store ended with), then runs are filled
 * breadth-first, so no aggregate starves while others have backlogs. Every method runs without
 * awaiting, so each is atomic.
 */
export class InMemoryOutboxStore implements OutboxStore<InMemoryTransaction> {
  private readonly clock: Clock;
  private readonly subscriptions = new Map<string, OutboxSubscription>();
  private readonly handlers = new Map<string, HandlerRecord>();
  /** Every entry by id, until pruned. */
  private readonly entries = new Map<string, StoredEntry>();
  /** `handler \0 eventId` of every stored entry: one entry per event per handler. */
  private readonly keys = new Set<string>();
  /** Per handler, per stream: the unpublished entries in version order. */
  private readonly queues = new Map<string, Map<string, StoredEntry[]>>();
  /** Per handler: the stream the previous claim ended with (round-robin start). */
  private readonly cursors = new Map<string, string>();

  constructor(options: InMemoryOutboxStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * {@inheritDoc OutboxRelayStore.subscribe}
   * A handler subscribed again keeps its first registration (start point, readiness) and takes
   * the new event list. Throws `ConfigurationError` for a malformed subscription, changing nothing.
   */
  async subscribe(subscriptions: readonly OutboxSubscription[]): Promise<void> {
    const checked = subscriptions.map(checkSubscription);
    const names = checked.map((subscription) => subscription.handler);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined) {
      throw new ConfigurationError(`Outbox handler "${repeated}" is subscribed twice in one call; names must be unique.`);
    }
    const now = this.now();
    for (const subscription of checked) {
      this.subscriptions.set(subscription.handler, subscription);
      if (!this.handlers.has(subscription.handler)) {
        this.handlers.set(subscription.handler, {
          startFrom: subscription.startFrom,
          backfillCursor: null,
          ...(subscription.startFrom === 'now' ? { readyAt: now } : {}),
          registeredAt: now,
        });
      }
    }
  }

  /** {@inheritDoc UnitOfWorkParticipant.participate} */
  async participate(tx: InMemoryTransaction, _request: AppendRequest, result: AppendResult): Promise<void> {
    const subscriptions = [...this.subscriptions.values()];
    if (subscriptions.length === 0) return;
    const now = this.now();
    const prepared: StoredEntry[] = [];
    for (const stream of result.streams) {
      for (const event of stream.events) {
        for (const subscription of subscriptions) {
          if (outboxSubscriptionReceives(subscription, event.type)) prepared.push(this.entryOf(subscription.handler, event, now));
        }
      }
    }
    if (prepared.length > 0) tx.onCommit(() => prepared.forEach((entry) => this.insert(entry)));
  }

  /** {@inheritDoc OutboxRelayStore.handlerState} */
  async handlerState(handler: string): Promise<OutboxHandlerState | undefined> {
    const record = this.handlers.get(handler);
    if (record === undefined) return undefined;
    return {
      handler,
      startFrom: record.startFrom,
      backfillCursor: record.backfillCursor,
      ...(record.readyAt === undefined ? {} : { readyAt: new Date(record.readyAt) }),
      registeredAt: new Date(record.registeredAt),
    };
  }

  /**
   * {@inheritDoc OutboxRelayStore.backfill}
   * Events of types the handler does not receive are skipped. Returns how many entries were
   * enqueued. Throws `ConfigurationError` for a handler this store has not subscribed.
   */
  async backfill(handler: string, events: readonly RecordedEvent[], cursor: string | null, done: boolean): Promise<number> {
    const subscription = this.subscriptions.get(handler);
    const record = this.handlers.get(handler);
    if (subscription === undefined || record === undefined) throw unknownHandler(handler);
    if (!Array.isArray(events)) throw invalidRequest('backfill events must be an array');
    checkBackfillEvents(events);
    const now = this.now();
    const prepared = events
      .filter((event) => outboxSubscriptionReceives(subscription, event.type))
      .map((event) => this.entryOf(handler, event, now));
    let enqueued = 0;
    for (const entry of prepared) if (this.insert(entry)) enqueued++;
    record.backfillCursor = cursor;
    if (done && record.readyAt === undefined) record.readyAt = now;
    return enqueued;
  }

  /** {@inheritDoc OutboxRelayStore.claim} */
  async claim(handler: string, owner: string, options: ClaimOptions): Promise<OutboxEntry[]> {
    checkOwner(owner);
    const { limit, leaseMs } = checkClaimOptions(options);
    const queue = this.queues.get(handler);
    if (this.handlers.get(handler)?.readyAt === undefined || queue === undefined) return [];
    const now = this.now();

    const cursor = this.cursors.get(handler) ?? '';
    const streams = [...queue.keys()].sort(compareCodePoints);
    const rotated = [
      ...streams.filter((streamId) => compareCodePoints(streamId, cursor) > 0),
      ...streams.filter((streamId) => compareCodePoints(streamId, cursor) <= 0),
    ];
    const heads: StoredEntry[][] = [];
    for (const streamId of rotated) {
      if (heads.length >= limit) break;
      const pending = queue.get(streamId) ?? [];
      const head = pending[0];
      if (head !== undefined && isClaimable(head, now)) heads.push(pending);
    }
    const taken = heads.map((pending) => pending[0] as StoredEntry);
    // Runs are filled breadth-first: every aggregate's second entry before any third one.
    let open = heads.map(() => true);
    for (let rank = 1; taken.length < limit && open.some(Boolean); rank++) {
      open = open.map((isOpen, index) => {
        if (!isOpen || taken.length >= limit) return false;
        const entry = heads[index]?.[rank];
        if (entry === undefined || !isClaimable(entry, now)) return false;
        taken.push(entry);
        return true;
      });
    }

    const lastHead = heads.at(-1)?.[0];
    if (lastHead !== undefined) this.cursors.set(handler, lastHead.streamId);
    for (const entry of taken) {
      entry.leaseOwner = owner;
      entry.leaseUntil = now + leaseMs;
    }
    return taken.sort(byAggregateThenVersion).map(decode);
  }

  /** {@inheritDoc OutboxRelayStore.extendLease} */
  async extendLease(handler: string, owner: string, ids: readonly string[], leaseMs: number): Promise<number> {
    checkIds(ids);
    checkPositiveInteger('leaseMs', leaseMs);
    const now = this.now();
    return this.fenced(handler, owner, ids, now, (entry) => {
      entry.leaseUntil = now + leaseMs;
    });
  }

  /** {@inheritDoc OutboxRelayStore.markPublished} */
  async markPublished(handler: string, owner: string, ids: readonly string[]): Promise<number> {
    checkIds(ids);
    const now = this.now();
    return this.fenced(handler, owner, ids, now, (entry) => {
      entry.publishedAt = now;
      this.dequeue(entry);
    });
  }

  /**
   * {@inheritDoc OutboxRelayStore.markFailed}
   * Counts the attempt, records the error and gives the lease up: the entry (and so its
   * aggregate) waits until `nextAttemptAt`, then any relay may claim it.
   */
  async markFailed(handler: string, owner: string, id: string, error: string, nextAttemptAt: Date): Promise<boolean> {
    const retryAt = checkDate('nextAttemptAt', nextAttemptAt);
    const message = checkError(error);
    const changed = this.fenced(handler, owner, [id], this.now(), (entry) => {
      entry.attempts += 1;
      entry.lastError = message;
      entry.nextAttemptAt = retryAt;
      release(entry);
    });
    return changed === 1;
  }

  /**
   * {@inheritDoc OutboxRelayStore.deadLetter}
   * Counts the attempt that failed (as `markFailed` does) and gives the lease up.
   */
  async deadLetter(handler: string, owner: string, id: string, error: string): Promise<boolean> {
    const message = checkError(error);
    const now = this.now();
    const changed = this.fenced(handler, owner, [id], now, (entry) => {
      entry.attempts += 1;
      entry.lastError = message;
      entry.deadLetteredAt = now;
      release(entry);
    });
    return changed === 1;
  }

  /** {@inheritDoc OutboxRelayStore.release} */
  async release(handler: string, owner: string, ids?: readonly string[]): Promise<number> {
    if (ids !== undefined) checkIds(ids);
    const now = this.now();
    const targets = ids ?? [...this.entries.values()].filter((entry) => entry.handler === handler).map((entry) => entry.id);
    return this.fenced(handler, owner, targets, now, release);
  }

  /** {@inheritDoc OutboxAdminStore.deadLetters} At most `limit` entries (100 unless given). */
  async deadLetters(handler?: string, limit: number = DEFAULT_DEAD_LETTER_LIMIT): Promise<OutboxEntry[]> {
    checkPositiveInteger('limit', limit);
    return [...this.entries.values()]
      .filter((entry) => isDeadLettered(entry) && (handler === undefined || entry.handler === handler))
      .sort((a, b) => (a.deadLetteredAt ?? 0) - (b.deadLetteredAt ?? 0) || compareCodePoints(a.id, b.id))
      .slice(0, limit)
      .map(decode);
  }

  /** {@inheritDoc OutboxAdminStore.leased} At most `limit` entries (100 unless given). */
  async leased(handler?: string, limit: number = DEFAULT_DEAD_LETTER_LIMIT): Promise<OutboxEntry[]> {
    checkPositiveInteger('limit', limit);
    const now = this.now();
    return [...this.entries.values()]
      .filter((entry) => entry.leaseOwner !== undefined && isHeldBy(entry, entry.leaseOwner, now) && (handler === undefined || entry.handler === handler))
      .sort((a, b) => a.leaseUntil! - b.leaseUntil! || compareCodePoints(a.id, b.id))
      .slice(0, limit)
      .map(decode);
  }

  /** {@inheritDoc OutboxAdminStore.redrive} */
  async redrive(handler: string, ids?: readonly string[]): Promise<number> {
    if (ids !== undefined) checkIds(ids);
    const now = this.now();
    const wanted = ids === undefined ? undefined : new Set(ids);
    let redriven = 0;
    for (const entry of this.entries.values()) {
      if (entry.handler !== handler || !isDeadLettered(entry) || (wanted !== undefined && !wanted.has(entry.id))) continue;
      delete entry.deadLetteredAt;
      entry.attempts = 0;
      entry.nextAttemptAt = now;
      release(entry);
      redriven++;
    }
    return redriven;
  }

  /** {@inheritDoc OutboxAdminStore.stats} Registered handlers and handlers with entries, by name. */
  async stats(handler?: string): Promise<OutboxStats[]> {
    const now = this.now();
    const byHandler = new Map<string, OutboxStats>();
    const statsOf = (name: string): OutboxStats => {
      let stats = byHandler.get(name);
      if (stats === undefined) {
        stats = { handler: name, pending: 0, leased: 0, deadLettered: 0 };
        byHandler.set(name, stats);
      }
      return stats;
    };
    for (const name of this.handlers.keys()) if (handler === undefined || name === handler) statsOf(name);
    for (const entry of this.entries.values()) {
      if ((handler !== undefined && entry.handler !== handler) || entry.publishedAt !== undefined) continue;
      const stats = statsOf(entry.handler);
      if (entry.deadLetteredAt !== undefined) {
        stats.deadLettered++;
        continue;
      }
      stats.pending++;
      if (entry.leaseUntil !== undefined && entry.leaseUntil > now) stats.leased++;
      if (stats.oldestPendingAt === undefined || entry.occurredAt < stats.oldestPendingAt.getTime()) {
        stats.oldestPendingAt = new Date(entry.occurredAt);
      }
    }
    return [...byHandler.values()].sort((a, b) => compareCodePoints(a.handler, b.handler));
  }

  /** {@inheritDoc OutboxRelayStore.prunePublished} */
  async prunePublished(before: Date): Promise<number> {
    const cutoff = checkDate('before', before);
    let pruned = 0;
    for (const [id, entry] of this.entries) {
      if (entry.publishedAt !== undefined && entry.publishedAt < cutoff) {
        this.entries.delete(id);
        this.keys.delete(keyOf(entry.handler, entry.eventId));
        pruned++;
      }
    }
    return pruned;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private entryOf(handler: string, event: RecordedEvent, now: number): StoredEntry {
    return {
      id: timeOrderedId(),
      handler,
      aggregateType: event.aggregateType,
      aggregateId: outboxAggregateId(event.streamId, event.aggregateType),
      streamId: event.streamId,
      version: event.version,
      eventId: event.eventId,
      eventType: event.type,
      schemaVersion: event.schemaVersion,
      payload: JSON.stringify(event.payload),
      metadata: JSON.stringify(event.metadata ?? {}),
      occurredAt: event.occurredAt.getTime(),
      attempts: 0,
      nextAttemptAt: now,
    };
  }

  /** Stores an entry unless the handler has one for its event already; returns whether it did. */
  private insert(entry: StoredEntry): boolean {
    const key = keyOf(entry.handler, entry.eventId);
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    this.entries.set(entry.id, entry);
    let queue = this.queues.get(entry.handler);
    if (queue === undefined) {
      queue = new Map();
      this.queues.set(entry.handler, queue);
    }
    const pending = queue.get(entry.streamId);
    if (pending === undefined) {
      queue.set(entry.streamId, [entry]);
    } else {
      // Live entries arrive in version order; a backfill may add older versions behind them.
      const index = pending.findIndex((other) => other.version > entry.version);
      if (index === -1) pending.push(entry);
      else pending.splice(index, 0, entry);
    }
    return true;
  }

  private dequeue(entry: StoredEntry): void {
    const queue = this.queues.get(entry.handler);
    const pending = queue?.get(entry.streamId);
    if (queue === undefined || pending === undefined) return;
    const remaining = pending.filter((other) => other !== entry);
    if (remaining.length === 0) queue.delete(entry.streamId);
    else queue.set(entry.streamId, remaining);
  }

  /** Applies `change` to the listed entries `owner` holds an unexpired lease on; returns how many. */
  private fenced(handler: string, owner: string, ids: readonly string[], now: number, change: (entry: StoredEntry) => void): number {
    let changed = 0;
    for (const id of new Set(ids)) {
      const entry = this.entries.get(id);
      if (entry === undefined || entry.handler !== handler || !isHeldBy(entry, owner, now)) continue;
      change(entry);
      changed++;
    }
    return changed;
  }
}

function keyOf(handler: string, eventId: string): string {
  return `${handler}\u0000${eventId}`;
}

function isClaimable(entry: StoredEntry, now: number): boolean {
  return (
    entry.publishedAt === undefined &&
    entry.deadLetteredAt === undefined &&
    entry.nextAttemptAt <= now &&
    (entry.leaseUntil === undefined || entry.leaseUntil <= now)
  );
}

function isHeldBy(entry: StoredEntry, owner: string, now: number): boolean {
  return (
    entry.leaseOwner === owner &&
    entry.leaseUntil !== undefined &&
    entry.leaseUntil > now &&
    entry.publishedAt === undefined &&
    entry.deadLetteredAt === undefined
  );
}

function isDeadLettered(entry: StoredEntry): boolean {
  return entry.deadLetteredAt !== undefined && entry.publishedAt === undefined;
}

function release(entry: StoredEntry): void {
  delete entry.leaseOwner;
  delete entry.leaseUntil;
}

function byAggregateThenVersion(a: StoredEntry, b: StoredEntry): number {
  return compareCodePoints(a.streamId, b.streamId) || a.version - b.version;
}

function decode(entry: StoredEntry): OutboxEntry {
  return {
    id: entry.id,
    handler: entry.handler,
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    streamId: entry.streamId,
    version: entry.version,
    eventId: entry.eventId,
    eventType: entry.eventType,
    schemaVersion: entry.schemaVersion,
    payload: entry.payload === undefined ? undefined : (JSON.parse(entry.payload) as unknown),
    metadata: JSON.parse(entry.metadata) as EventMetadata,
    occurredAt: new Date(entry.occurredAt),
    attempts: entry.attempts,
    nextAttemptAt: new Date(entry.nextAttemptAt),
    ...(entry.lastError === undefined ? {} : { lastError: entry.lastError }),
    ...(entry.leaseOwner === undefined ? {} : { leaseOwner: entry.leaseOwner }),
    ...(entry.leaseUntil === undefined ? {} : { leaseUntil: new Date(entry.leaseUntil) }),
    ...(entry.publishedAt === undefined ? {} : { publishedAt: new Date(entry.publishedAt) }),
    ...(entry.deadLetteredAt === undefined ? {} : { deadLetteredAt: new Date(entry.deadLetteredAt) }),
  };
}

function checkClaimOptions(options: ClaimOptions): ClaimOptions {
  checkPositiveInteger('limit', options?.limit);
  checkPositiveInteger('leaseMs', options?.leaseMs);
  return options;
}

