import { ChronicleError } from './chronicle.error.js';

/**
 * A unit of work tried to record an outcome for a command id that already has one. The gateway
 * catches it and answers with the recorded outcome; adapters throw it, callers rarely see it.
 */
export class DuplicateCommandError extends ChronicleError {
  constructor(readonly commandId: string) {
    super(`Command "${commandId}" already has a recorded outcome.`);
  }
}
