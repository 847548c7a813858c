import type { RecordedEvent } from '../events/recorded-event.js';

/** Work a handler hands back to run inside the checkpoint's transaction (`tx`: the adapter's handle). */
export type TransactionalWork<Tx = unknown> = (tx: Tx) => Promise<void>;

/** One event a subscription delivers: decoded, and as stored. */
export interface SubscriptionDelivery {
  /** The event, decoded by the serializer. */
  event: object;
  /** The event as stored: stream, version, position, cursor, metadata. */
  envelope: RecordedEvent;
}

/**
 * What a subscription delivers events to.
 *
 * `handle` runs outside any transaction, once per delivery: what it does there is at-least-once
 * (dedupe on `envelope.eventId`). The function it may return runs inside the transaction that
 * moves the checkpoint, so that part happens exactly once with it (a projection's read model
 * writes, a saga's state). Throwing from either part is a failed delivery: retried with backoff,
 * then parked.
 */
export interface SubscriptionHandler<Tx = unknown> {
  /** Event type names the handler wants, or every event. Others pass by without being decoded. */
  readonly types: ReadonlySet<string> | '*';
  handle(event: object, envelope: RecordedEvent): Promise<TransactionalWork<Tx> | void>;
  /**
   * With the runner's `concurrency` above 1: events of different partitions may be handled at the
   * same time (a saga's correlation id); undefined puts the event in a partition of its own.
   */
  partitionKey?(event: object, envelope: RecordedEvent): string | undefined;
  /**
   * Runs the transactional works of one checkpoint transaction (in feed order) instead of the
   * runner running each in turn: a handler that writes many at once (a saga saving many
   * instances in one statement) implements it. Throwing fails the whole transaction, which the
   * runner then redoes one event at a time. Used by partitioned runners (sagas).
   */
  runWorks?(works: ReadonlyArray<TransactionalWork<Tx>>, tx: Tx): Promise<void>;
  /**
   * Optional: the events of one checkpoint transaction at once (a chunk of at most `commitEvery`,
   * a whole page in a rebuild, in feed order; only events the handler wants, decoded, none of a held stream). The runner then calls
   * it once per chunk instead of `handle` per event, and its work runs in the checkpoint's
   * transaction like `handle`'s. When it or its work fails, the chunk is rolled back and redone
   * one event at a time through `handle`, which finds the failing event, retries and parks it
   * alone. Not used by partitioned handlers (`partitionKey` with `concurrency` above 1).
   */
  handleBatch?(deliveries: readonly SubscriptionDelivery[]): Promise<TransactionalWork<Tx> | void>;
}
