import type { JsonValue } from '../events/json.js';

/** Where a saga instance is in its life. A `completed` instance is a tombstone until pruned. */
export type SagaStatus = 'active' | 'completed';

/** One saga instance as stored. */
export interface SagaInstance<S = JsonValue> {
  sagaName: string;
  /** The association value that routes events to this instance. */
  correlationId: string;
  state: S;
  /** Schema version of `state`, from `@Saga({ stateVersion })`. */
  stateVersion: number;
  /** Optimistic-concurrency version: 1 after the first save, +1 per save. */
  version: number;
  status: SagaStatus;
  startedAt: Date;
  updatedAt: Date;
  endedAt: Date | null;
}

/** A saga timeout: fires once at `dueAt` (or later), after a restart too. */
export interface SagaDeadline {
  /** `<saga>:<correlation id>:<name>`: scheduling the same name again moves the deadline. */
  id: string;
  sagaName: string;
  correlationId: string;
  name: string;
  dueAt: Date;
  payload: JsonValue | null;
  attempts: number;
  lastError: string | null;
  /** Set when the deadline failed too often and was parked. */
  parkedAt?: Date | null;
}

/** What one handling of a message changed: the instance, and the deadlines set or cancelled. */
export interface SagaChange {
  instance: SagaInstance;
  /** The version the instance was loaded at (0: a new instance). */
  expectedVersion: number;
  schedule?: SagaDeadline[];
  /** Deadline names of this instance to cancel; `'*'` cancels all of them (an instance that completes). */
  cancel?: string[];
  /** The deadline whose firing this change is (marked fired in the same transaction). */
  fired?: { id: string; owner: string };
}

/** How many deadlines of a saga are overdue ({@link SagaStore.overdueDeadlines}). */
export interface OverdueDeadlines {
  sagaName: string;
  count: number;
}

/** Options of {@link SagaStore.list}. */
export interface ListSagasOptions {
  status?: SagaStatus;
  /** Correlation ids sorting after this one (keyset pagination). */
  after?: string;
  /** @default 100 */
  limit?: number;
}

/**
 * Stores saga instances and their deadlines.
 *
 * Guarantees every implementation keeps (the contract suite checks them):
 * - `save` succeeds only from the version the instance was loaded at (`SagaConcurrencyError`
 *   otherwise), and a new instance only once per (saga, correlation id);
 * - a change's deadlines, cancellations and fired mark commit with the instance or not at all;
 * - a deadline is handed to one claimer at a time (a lease), and fires until marked fired;
 * - limits and expected versions take any safe integer (an expected version no instance is at is
 *   a `SagaConcurrencyError`), stored versions any the store's columns hold; anything else fails
 *   with `InvalidArgumentError` before anything changes.
 */
export interface SagaStore<Tx = unknown> {
  load(sagaName: string, correlationId: string): Promise<SagaInstance | undefined>;
  /** Saves a change, inside `tx` when given (a subscription step), else in its own transaction. */
  save(change: SagaChange, tx?: Tx): Promise<void>;
  /**
   * Saves the changes of different instances inside `tx` (a subscription step saving many
   * instances at once), each with `save`'s guarantees; a store may write them with fewer
   * statements. When one is stale it throws `SagaConcurrencyError`: the caller's transaction fails
   * and keeps none of them. A saga with a store without it saves each change in turn.
   */
  saveAll?(changes: readonly SagaChange[], tx: Tx): Promise<void>;
  delete(sagaName: string, correlationId: string): Promise<void>;
  /** Instances of a saga by correlation id (in-flight ones with `status: 'active'`). */
  list(sagaName: string, options?: ListSagasOptions): Promise<SagaInstance[]>;
  /** Leases up to `limit` deadlines due at `now` to `owner` for `leaseMs` (a safe integer >= 1). */
  claimDue(owner: string, leaseMs: number, limit: number): Promise<SagaDeadline[]>;
  /**
   * Gives a claimed deadline back after a failure, counting the attempt, to fire again at
   * `retryAt`; `null` parks it (kept with its error, never claimed again until re-scheduled).
   */
  releaseDeadline(id: string, owner: string, error: string, retryAt: Date | null): Promise<void>;
  /** Marks a deadline fired without a change (its instance is gone or completed). */
  dropDeadline(id: string, owner: string): Promise<void>;
  /** The deadlines of an instance not yet fired. */
  deadlines(sagaName: string, correlationId: string): Promise<SagaDeadline[]>;
  /**
   * Per saga, the deadlines due at the store's `now` that are neither fired nor parked (leased ones
   * included): what the deadline runner has yet to fire. Sagas with none are left out; sorted by saga name.
   */
  overdueDeadlines(): Promise<OverdueDeadlines[]>;
  /** Deletes completed instances that ended before `before`, and fired deadlines; returns how many instances. */
  pruneCompleted(before: Date): Promise<number>;
}
