import { ChronicleError } from '@chronicle/core';

/**
 * A publisher could not hand an outbox entry (or a whole batch) to its broker: the broker refused
 * it, did not confirm it in time, the connection was lost, or an earlier entry of the same
 * aggregate failed first. The relay retries it later; nothing is lost.
 */
export class OutboxPublishError extends ChronicleError {
  /** The outbox entry that was not published; absent when the whole batch failed. */
  readonly entryId: string | undefined;

  constructor(message: string, options?: { cause?: unknown; entryId?: string }) {
    super(message, { cause: options?.cause });
    this.entryId = options?.entryId;
  }
}
