import { ChronicleError } from './chronicle.error.js';

/** A command object is unusable as sent (no target id, failed validation). Nothing was written. */
export class InvalidCommandError extends ChronicleError {
  constructor(
    readonly commandName: string,
    reason: string,
    readonly problems: string[] = [],
  ) {
    super(`Command ${commandName} is invalid: ${reason}.`);
  }
}
