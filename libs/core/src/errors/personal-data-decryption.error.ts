import { ChronicleError } from './chronicle.error.js';

/**
 * A sealed personal value does not decrypt with its (still existing) data key: the ciphertext, its
 * nonce or its tag was altered, or the envelope is malformed. A forgotten key is not this error: its
 * values read as the declared replacement. The message names where the value was, never a value.
 */
export class PersonalDataDecryptionError extends ChronicleError {
  constructor(
    readonly location: string,
    readonly keyId: string | undefined,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The personal value at ${location}${keyId ? ` (data key ${keyId})` : ''} cannot be decrypted: ${reason}. ` +
        'The stored ciphertext is corrupt; restore the row from a backup or forget its subject.',
      options,
    );
  }
}
