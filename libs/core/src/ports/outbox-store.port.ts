import type { EventMetadata } from '../events/event-metadata.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import type { UnitOfWorkParticipant } from './journal.port.js';

/** One event for one outbox handler: written with the event, published at least once, in order per aggregate. */
export interface OutboxEntry {
  /** Time-sortable (UUIDv7); consumers dedupe on it (it is the published message id). */
  id: string;
  handler: string;
  aggregateType: string;
  aggregateId: string;
  streamId: string;
  /** The event's version in its stream; entries of one aggregate are published in this order. */
  version: number;
  eventId: string;
  eventType: string;
  schemaVersion: number;
  /** As stored: a JSON object, or whatever a corrupt row holds (the relay dead-letters what it cannot read). */
  payload: unknown;
  metadata: EventMetadata;
  occurredAt: Date;
  /** Failed publications so far. */
  attempts: number;
  /** Not claimable before this time (backoff). */
  nextAttemptAt: Date;
  lastError?: string;
  leaseOwner?: string;
  leaseUntil?: Date;
  publishedAt?: Date;
  deadLetteredAt?: Date;
}

/** Which events an outbox handler receives. */
export interface OutboxSubscription {
  handler: string;
  /** Event type names, or every event. */
  events: readonly string[] | '*';
  /**
   * Where a handler seen for the first time starts: with events committed from now on, or with
   * the whole journal (backfilled in order before the handler is relayed).
   */
  startFrom: 'now' | 'beginning';
}

/** Where a handler's backfill stands. */
export interface OutboxHandlerState {
  handler: string;
  startFrom: 'now' | 'beginning';
  /** Feed cursor the backfill has enqueued up to (null: not started). */
  backfillCursor: string | null;
  /** When the backfill finished (or, for `now`, when the handler was registered). */
  readyAt?: Date;
  registeredAt: Date;
}

/** Backlog of one handler. */
export interface OutboxStats {
  handler: string;
  /** Entries not yet published and not dead-lettered. */
  pending: number;
  /** Occurred-at of the oldest pending entry. */
  oldestPendingAt?: Date;
  /** Pending entries currently leased by a relay. */
  leased: number;
  deadLettered: number;
}

/** Options of a claim. */
export interface ClaimOptions {
  /** Most entries to claim. */
  limit: number;
  /** How long the claim holds before another relay may take the entries. */
  leaseMs: number;
}

/**
 * The relay's side of the outbox store: handler registration and backfill, fenced claims and the
 * settling of each claimed entry, and the pruning of published entries. The outbox relay depends on
 * this side only; the guarantees are the {@link OutboxStore}'s.
 */
export interface OutboxRelayStore {
  /**
   * Declares the handlers of this process: `participate` writes entries for them from now on.
   * A handler seen for the first time is registered with its `startFrom`.
   */
  subscribe(subscriptions: readonly OutboxSubscription[]): Promise<void>;
  /** The registration and backfill state of a handler. */
  handlerState(handler: string): Promise<OutboxHandlerState | undefined>;
  /**
   * Enqueues entries for already-committed events (a backfill page), skipping events the handler
   * already has entries for, and records the cursor the backfill has reached. `done` marks the
   * handler ready for relaying.
   */
  backfill(handler: string, events: readonly RecordedEvent[], cursor: string | null, done: boolean): Promise<number>;
  /**
   * Claims up to `limit` entries of a handler for `owner`, sorted by aggregate then version. The
   * records returned are the caller's own (never the store's), so the relay decodes them in place.
   * A store wrapped by `withPersonalData` returns only entries it could open: one whose personal
   * value cannot be (a corrupt ciphertext) it dead-letters itself, and it releases the later
   * entries of that entry's stream from this claim.
   */
  claim(handler: string, owner: string, options: ClaimOptions): Promise<OutboxEntry[]>;
  /** Extends the lease of entries `owner` still holds; returns how many. */
  extendLease(handler: string, owner: string, ids: readonly string[], leaseMs: number): Promise<number>;
  /** Marks entries published (only those `owner` still holds); returns how many. */
  markPublished(handler: string, owner: string, ids: readonly string[]): Promise<number>;
  /** Records a failed attempt and when to retry (only while `owner` holds it). */
  markFailed(handler: string, owner: string, id: string, error: string, nextAttemptAt: Date): Promise<boolean>;
  /**
   * Parks an entry (counting the attempt): it stays visible, holds back the later entries of its
   * aggregate, and can be re-driven.
   */
  deadLetter(handler: string, owner: string, id: string, error: string): Promise<boolean>;
  /** Gives entries back without counting an attempt (graceful shutdown, entries not attempted). */
  release(handler: string, owner: string, ids?: readonly string[]): Promise<number>;
  /** Deletes entries published before `before`; returns how many. */
  prunePublished(before: Date): Promise<number>;
}

/**
 * The operator's side of the outbox store: backlogs, dead letters and their re-drive, for admin and
 * monitoring services. The guarantees are the {@link OutboxStore}'s.
 */
export interface OutboxAdminStore {
  /** Dead-lettered entries, oldest first. */
  deadLetters(handler?: string, limit?: number): Promise<OutboxEntry[]>;
  /**
   * Entries under a lease that has not run out (neither published nor dead-lettered): which relay
   * holds them and until when. Of one handler or of all, soonest expiry first, at most `limit`.
   */
  leased(handler?: string, limit?: number): Promise<OutboxEntry[]>;
  /** Makes dead-lettered entries pending again with their attempts reset; returns how many. */
  redrive(handler: string, ids?: readonly string[]): Promise<number>;
  /** Backlog per handler. */
  stats(handler?: string): Promise<OutboxStats[]>;
}

/**
 * Stores outbox entries. It is a participant of the journal's unit of work: `participate` writes
 * one entry per appended event per subscribed handler, in the events' transaction — so a command
 * that rolls back leaves no entry, and a committed event always has its entries.
 *
 * Guarantees every implementation keeps (the contract suite checks them):
 * - a claim returns, per aggregate, only entries whose every earlier entry (same handler) is
 *   published: the head of the aggregate and the unbroken run after it, sorted by stream id (code
 *   point order) then version. An aggregate whose head is leased (by anyone, until the lease
 *   expires), dead-lettered or backing off gives nothing;
 * - claims by concurrent relays never overlap (`FOR UPDATE SKIP LOCKED` on PostgreSQL);
 * - limits take any safe integer >= 1, and backfilled events any safe version and position the
 *   store's columns hold; anything else fails with `InvalidArgumentError` before anything changes;
 * - every change to a claimed entry is fenced: it applies only while the caller holds an
 *   unexpired lease on it; `markFailed`, `deadLetter` and `release` give the lease up;
 * - an expired lease makes the entries claimable again (at-least-once after a crash);
 * - leases and backoff are compared with the store's clock: keep instances' clocks in sync.
 *
 * Handlers are per process: entries are written for the handlers the appending process
 * subscribed, so every instance should run the same set of handlers.
 */
export interface OutboxStore<Tx = unknown> extends UnitOfWorkParticipant<Tx>, OutboxRelayStore, OutboxAdminStore {}
