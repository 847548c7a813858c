import type { RecordedEvent } from '../events/recorded-event.js';

/** What a projection handler gets besides the event. */
export interface ProjectionContext<Tx = unknown> {
  /**
   * The transaction that moves the checkpoint (a TypeORM EntityManager): write the read model
   * through it, never through an injected repository, or the write escapes exactly-once.
   * Undefined for `at-least-once` projections.
   */
  tx: Tx;
  /** Dedupe on it in `at-least-once` projections. */
  eventId: string;
  /** The event as stored: stream, version, position, metadata. */
  envelope: RecordedEvent;
}

/** A projection whose read model can be rebuilt from zero: `clear` empties it inside the rebuild's transaction. */
export interface RebuildableProjection<Tx = unknown> {
  clear(tx: Tx): Promise<void>;
}

/** One event of the batch an `@OnBatch` method gets: decoded, and as stored. */
export interface ProjectionBatchEvent<E extends object = object> {
  /** The event, decoded (an instance of its `@Event` class, upcast to the current schema). */
  event: E;
  /** The event as stored: stream, version, position, event id, metadata. */
  envelope: RecordedEvent;
}

/** What an `@OnBatch` method gets besides the events. */
export interface ProjectionBatchContext<Tx = unknown> {
  /**
   * The transaction that moves the checkpoint past the batch (a TypeORM EntityManager): write the
   * read model through it. Undefined for `at-least-once` projections (dedupe on each envelope's
   * `eventId`).
   */
  tx: Tx;
}
