import { ChronicleError } from '@chronicle/core';

/**
 * An operations request named something that does not exist: a stream never written, a command id
 * with no recorded outcome, a subscription, projection or saga instance unknown to the store.
 * The console answers it with 404; nothing was changed.
 */
export class OperationsNotFoundError extends ChronicleError {
  constructor(
    /** What was looked for: `stream`, `command`, `subscription`, `projection`, `saga instance`. */
    readonly kind: string,
    /** The id as given. */
    readonly id: string,
    hint = 'Check the id (ids are case-sensitive) or list what exists first.',
  ) {
    super(`No ${kind} "${id.length > 200 ? `${id.slice(0, 200)}…` : id}" was found. ${hint}`);
  }
}
