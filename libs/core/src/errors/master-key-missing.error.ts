import { ChronicleError } from './chronicle.error.js';

/**
 * The master key that wraps the data keys is not configured (at start-up), is malformed, or a
 * stored data key names a master key id this instance was not given. Configure the key (32 bytes,
 * base64) and keep the previous one listed until `rotateMasterKey` has re-wrapped every data key.
 */
export class MasterKeyMissingError extends ChronicleError {}
