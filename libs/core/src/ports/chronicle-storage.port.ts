import type { CheckpointStore } from './checkpoint-store.port.js';
import type { Journal } from './journal.port.js';
import type { OutboxStore } from './outbox-store.port.js';
import type { SagaStore } from './saga-store.port.js';
import type { SnapshotStore } from './snapshot-store.port.js';

/**
 * Wake-ups from commits made anywhere (other processes included), sooner than polling would
 * notice them: PostgreSQL LISTEN/NOTIFY on one connection per instance. A wake-up is an
 * optimisation only: whoever listens keeps polling as the fallback.
 */
export interface NotificationSource {
  /**
   * Starts listening (idempotent). Never fails for connection problems: a lost or refused
   * connection is retried in the background, and every listener is called once listening resumes,
   * since notifications sent meanwhile are gone.
   */
  start(): Promise<void>;
  /** Stops listening and closes the connection; leaves no timer behind. */
  stop(): Promise<void>;
  /**
   * Calls `listener` on every wake-up until the returned function is called, with the `origin` of
   * the unit whose commit sent it (`AppendRequest.origin`): undefined for a unit without one, and
   * when listening resumes after a loss (whatever was sent meanwhile is gone, so poll).
   */
  onWake(listener: (origin: string | undefined) => void): () => void;
}

/**
 * Everything Chronicle stores, built and wired together by one factory (`createInMemoryStorage`,
 * `createTypeOrmStorage`): the outbox store is already the journal's unit-of-work participant
 * (its entries commit with the events), and the journal already notifies the channel the
 * notification source listens to. Building it does no I/O; `migrate` is the explicit step that
 * touches the database. One bundle serves one Chronicle runtime.
 */
export interface ChronicleStorage<Tx = unknown> {
  readonly journal: Journal<Tx>;
  readonly snapshots: SnapshotStore;
  readonly outbox: OutboxStore<Tx>;
  readonly checkpoints: CheckpointStore<Tx>;
  readonly sagas: SagaStore<Tx>;
  /** Wake-ups from commits; null where there are none to listen to (memory, SQLite): polling only. */
  readonly notifications: NotificationSource | null;
  /**
   * Creates or upgrades every table, in order, under a lock so that instances starting together do
   * not race; does nothing when they are current (or in memory).
   */
  migrate(): Promise<void>;
}
