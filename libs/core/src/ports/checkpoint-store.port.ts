import type { FeedCursor } from './journal.port.js';

/** A subscription's stored progress and ownership. */
export interface Checkpoint {
  /** The subscription's unique name (a projection's or saga's name, with its kind as prefix). */
  name: string;
  /** The feed cursor of the last event the subscription has passed; null before the first. */
  position: FeedCursor | null;
  /** The runner holding the lease, if any. */
  leaseOwner: string | null;
  /** When the lease runs out; another runner may take it over after that. */
  leaseUntil: Date | null;
  /** The last failure of the subscription (a parked event, a failed batch), cleared by progress. */
  lastError: string | null;
  updatedAt: Date;
}

/**
 * An event a subscription set aside. `failed`: its handler kept failing (or it could not be
 * decoded). `held`: an earlier event of the same stream is parked, so this one waits behind it to
 * keep the stream's order. Both are re-driven together, in version order.
 */
export interface ParkedEvent {
  subscription: string;
  eventId: string;
  streamId: string;
  version: number;
  /** Global position of the event. */
  position: number;
  type: string;
  reason: 'failed' | 'held';
  /** Why it failed (for `held`: which event it waits behind). */
  error: string | null;
  attempts: number;
  parkedAt: Date;
  /** Set by a re-drive request; the runner re-delivers the stream's parked events and clears it. */
  redriveRequestedAt: Date | null;
}

/** Which parked events {@link CheckpointStore.parked} returns. */
export interface ParkedQuery {
  /** Only this stream's. */
  streamId?: string;
  /** Only those a re-drive was requested for (what a runner polls for). */
  redriveRequested?: boolean;
  limit?: number;
}

/** One step of a subscription: where it was, where it is now, and what it set aside or re-drove. */
export interface CheckpointAdvance {
  name: string;
  owner: string;
  /** The position the runner read from: the step fails if the stored one differs (fencing). */
  from: FeedCursor | null;
  to: FeedCursor | null;
  /** Events to set aside with this step (an event parked already is updated: a failed re-drive). */
  park?: ParkedEvent[];
  /** Parked event ids handled (re-driven) by this step. */
  unpark?: string[];
  /** A stream whose re-drive stopped at a failure: its remaining re-drive requests are cleared. */
  clearRedrive?: string;
  /** A new last error, or null to clear it. @default unchanged */
  lastError?: string | null;
}

/** Where a rebuild ended, and what it set aside on the way. */
export interface CheckpointReset {
  position: FeedCursor | null;
  park: ParkedEvent[];
}

/**
 * Stores subscription checkpoints, their leases and their parked events.
 *
 * Guarantees every implementation keeps (the contract suite checks them):
 * - one runner holds a subscription's lease at a time; an expired lease can be taken over;
 * - `advance` moves a checkpoint only from the position the runner read and only for the lease
 *   holder, in one transaction with the runner's `work` and the parked events: a runner that lost
 *   its lease, or raced another, gets `CheckpointLeaseLostError` and nothing of the step is kept;
 * - parked events survive restarts and stay until re-driven or the checkpoint is reset;
 * - limits, and parked events' versions, positions and attempts, take any safe integer in range
 *   (a version at most what the store's columns hold); anything else fails with
 *   `InvalidArgumentError` before anything changes.
 */
export interface CheckpointStore<Tx = unknown> {
  /**
   * Takes the lease of a subscription (creating its checkpoint at null the first time) when it is
   * free, expired or already this owner's, and extends it to `now + leaseMs`. Returns the
   * checkpoint when this owner holds the lease, undefined when another does. `leaseMs` is a safe
   * integer >= 1; anything else fails with `InvalidArgumentError` and leaves the lease as it was.
   */
  acquire(name: string, owner: string, leaseMs: number): Promise<Checkpoint | undefined>;
  /** Gives the lease up (when this owner holds it). */
  release(name: string, owner: string): Promise<void>;
  /**
   * Runs `work` in one transaction with the checkpoint's step (`Tx` is the adapter's transaction
   * handle: a TypeORM EntityManager). The checkpoint row is locked first, so concurrent steps and
   * rebuilds of one subscription serialise on it.
   */
  advance<T = void>(step: CheckpointAdvance, work?: (tx: Tx) => Promise<T>): Promise<T | undefined>;
  /** Records a failure without moving the checkpoint (only for the lease holder). */
  recordError(name: string, owner: string, error: string): Promise<void>;
  load(name: string): Promise<Checkpoint | undefined>;
  list(): Promise<Checkpoint[]>;
  /** Parked events of a subscription, by stream and version. */
  parked(name: string, options?: ParkedQuery): Promise<ParkedEvent[]>;
  /** Marks the parked events of one stream (or of every stream) for re-delivery; returns how many. */
  requestRedrive(name: string, streamId?: string): Promise<number>;
  /**
   * A rebuild: in one transaction, locks the checkpoint, forgets its parked events, runs `work`
   * (which replays the feed from the start into the cleared read model) and stores the position
   * and parked events `work` returns. Until it commits, readers see the old read model and the
   * old checkpoint; a live runner's next step fails its fencing and resumes from the new position.
   */
  reset(name: string, work: (tx: Tx) => Promise<CheckpointReset>): Promise<CheckpointReset>;
  /** Runs `work` so that a failure inside it undoes only its own writes (a savepoint). */
  nested<T>(tx: Tx, work: () => Promise<T>): Promise<T>;
  /** Removes a subscription's checkpoint and parked events (a retired projection). */
  delete(name: string): Promise<void>;
}
