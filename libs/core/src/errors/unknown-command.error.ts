import { ChronicleError } from './chronicle.error.js';

/** A command was sent that no @Aggregate handles. */
export class UnknownCommandError extends ChronicleError {
  constructor(readonly commandName: string) {
    super(`No @Aggregate handles the command "${commandName}"; add a @Handles(${commandName}) method to one.`);
  }
}
