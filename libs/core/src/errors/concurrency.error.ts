import { ChronicleError } from './chronicle.error.js';

/**
 * A write expected a stream at one version and found it at another: someone else wrote
 * first. Reload the aggregate (or drop the expected version) and try again.
 */
export class ConcurrencyError extends ChronicleError {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `Stream "${streamId}" was expected at version ${expectedVersion} but is at ` +
        `${actualVersion === undefined ? 'a later version' : `version ${actualVersion}`}; ` +
        'reload it and retry the command against the current version.',
      options,
    );
  }
}
