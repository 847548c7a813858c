import { ChronicleError } from './chronicle.error.js';

/** A saga instance was saved by someone else since it was loaded; reload it and handle again. */
export class SagaConcurrencyError extends ChronicleError {
  constructor(
    readonly sagaName: string,
    readonly correlationId: string,
    readonly expectedVersion: number,
  ) {
    super(
      `Saga "${sagaName}" instance "${correlationId}" was expected at version ${expectedVersion} but was changed meanwhile; ` +
        'it is reloaded and the message handled again.',
    );
  }
}
