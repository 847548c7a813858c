import { ChronicleError } from './chronicle.error.js';

/** A command id was reused for a different command (another type or payload). Nothing was written. */
export class IdempotencyKeyReusedError extends ChronicleError {
  constructor(readonly commandId: string) {
    super(
      `Command id "${commandId}" was already used for a different command; ` +
        'a retry must repeat the original command exactly, a new command needs a new id.',
    );
  }
}
