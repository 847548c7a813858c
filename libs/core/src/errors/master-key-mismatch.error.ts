import { ChronicleError } from './chronicle.error.js';

/**
 * A stored data key does not unwrap with the configured master key of the same id: the key
 * configured under that id is not the one the data key was wrapped with (or the row is corrupt).
 * The message names the ids only, never key material.
 */
export class MasterKeyMismatchError extends ChronicleError {
  constructor(
    readonly masterKeyId: string,
    readonly keyId: string,
  ) {
    super(
      `Data key ${keyId} does not unwrap with master key "${masterKeyId}": the configured key of that id is not ` +
        'the one it was wrapped with. Configure the right master key (keep old keys listed as previous until rotation ends).',
    );
  }
}
