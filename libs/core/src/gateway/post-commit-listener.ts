import type { CommandResult } from '../commands/command-result.js';
import type { RecordedEvent } from '../events/recorded-event.js';

/** A command that has just committed. */
export interface CommittedCommand {
  command: object;
  result: CommandResult;
  /** The events exactly as stored. */
  recorded: RecordedEvent[];
}

/**
 * Told about every commit, after it. Best effort and in-process: an error is logged and never
 * reaches the command's caller. Durable reactions belong in the outbox, projections or sagas.
 * Listeners run in the order they were added; one that returns a promise is awaited before the
 * next runs and before the command resolves (one that returns nothing is not awaited).
 */
export interface PostCommitListener {
  afterCommit(commit: CommittedCommand): void | Promise<void>;
}
