import type { FeedCursor } from '../ports/journal.port.js';

/**
 * What a successful command returns.
 *
 * @typeParam E - the events' type.
 * @typeParam S - the aggregate's class (the gateway cannot check it: name the aggregate the command targets).
 */
export interface CommandResult<E extends object = object, S extends object = object> {
  aggregateType: string;
  aggregateId: string;
  streamId: string;
  /** The aggregate's version after the command. */
  version: number;
  /** The events the command appended (empty for a command that decided nothing happens). */
  events: E[];
  /** Position token of the last event, for waiting until a projection has seen it. */
  cursor?: FeedCursor;
  /** The command id the outcome is recorded under. */
  commandId: string;
  /** True when this is the recorded outcome of an earlier execution of the same command id. */
  replayed: boolean;
  /**
   * The aggregate's state right after the command: an instance of the aggregate class (as
   * `gateway.read` returns it), a copy the caller may keep or change without touching the gateway's
   * cached aggregate. It is copied on first access (or before the cached aggregate next changes),
   * so a caller that ignores it pays almost nothing.
   *
   * `undefined` when `replayed` is true: a recorded outcome holds the versions, not the state, so
   * rebuild it with `gateway.readAt(AggregateClass, aggregateId, version)` if needed. Also
   * `undefined` for a command that decided nothing happens to an aggregate that does not exist.
   */
  readonly state: S | undefined;
}
