import type { FeedCursor } from '../ports/journal.port.js';

/** What a successful command returns. */
export interface CommandResult<E extends object = object> {
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
}
