import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MasterKeyMismatchError } from '../errors/master-key-mismatch.error.js';
import { MasterKeyMissingError } from '../errors/master-key-missing.error.js';

/** One master key: an id stored beside every data key it wraps, and 32 bytes (raw or base64). */
export interface MasterKeyConfig {
  id: string;
  key: Uint8Array | string;
}

/** The master keys of a key store: the one that wraps new keys, and older ones still readable. */
export interface MasterKeyOptions {
  /** Wraps every new data key and every key `rotateMasterKey` re-wraps. */
  current: MasterKeyConfig;
  /** Earlier master keys, kept until `rotateMasterKey` has re-wrapped every key they wrapped. */
  previous?: readonly MasterKeyConfig[];
}

/** A data key wrapped by a master key: the master key's id and `nonce | tag | ciphertext` in base64. */
export interface WrappedKey {
  masterKeyId: string;
  wrapped: string;
}

const MASTER_KEY_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

function decodeKey(config: MasterKeyConfig, role: string): Buffer {
  if (!config || typeof config !== 'object' || typeof config.id !== 'string' || !MASTER_KEY_ID.test(config.id)) {
    throw new MasterKeyMissingError(
      `The ${role} master key has no valid id: give it 1–64 letters, digits or . _ : - (it is stored beside each data key it wraps).`,
    );
  }
  const raw = typeof config.key === 'string' ? Buffer.from(config.key, 'base64') : config.key ? Buffer.from(config.key) : undefined;
  if (!raw || raw.length !== 32) {
    throw new MasterKeyMissingError(
      `Master key "${config.id}" is ${raw ? `${raw.length} bytes` : 'missing'}: configure 32 random bytes, base64-encoded ` +
        "(e.g. `node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"`).",
    );
  }
  return raw;
}

/**
 * Wraps and unwraps data keys with AES-256-GCM under the configured master keys; the data key's
 * id is the additional authenticated data, so a wrapped key cannot be moved to another row.
 * Refuses a missing or malformed master key when built, i.e. at start-up.
 */
export class MasterKeyRing {
  private readonly keys = new Map<string, Buffer>();
  /** The id of the master key that wraps. */
  readonly currentId: string;

  constructor(options: MasterKeyOptions | undefined) {
    if (!options || typeof options !== 'object' || !options.current) {
      throw new MasterKeyMissingError(
        'No master key is configured for personal data: set `masterKeys.current` ({ id, key: 32 bytes base64 }) from your secret store.',
      );
    }
    this.currentId = options.current.id;
    this.keys.set(options.current.id, decodeKey(options.current, 'current'));
    for (const previous of options.previous ?? []) {
      if (this.keys.has(previous.id)) throw new MasterKeyMissingError(`Master key id "${previous.id}" is configured twice.`);
      this.keys.set(previous.id, decodeKey(previous, 'previous'));
    }
  }

  /** Wraps a data key with the current master key. */
  wrap(keyId: string, dataKey: Uint8Array): WrappedKey {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, nonce);
    cipher.setAAD(Buffer.from(keyId, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { masterKeyId: this.currentId, wrapped: Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]).toString('base64') };
  }

  /** Unwraps a data key; `MasterKeyMissingError` for an unknown master key id, `MasterKeyMismatchError` when it does not authenticate. */
  unwrap(keyId: string, wrapped: WrappedKey): Uint8Array {
    const master = this.keys.get(wrapped.masterKeyId);
    if (!master) {
      throw new MasterKeyMissingError(
        `Data key ${keyId} is wrapped by master key "${wrapped.masterKeyId}", which is not configured: list it under \`masterKeys.previous\`.`,
      );
    }
    const bytes = Buffer.from(wrapped.wrapped, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', master, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(keyId, 'utf8'));
      decipher.setAuthTag(bytes.subarray(12, 28));
      const key = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
      if (key.length !== 32) throw new Error('wrong length');
      return key;
    } catch {
      // The cause is dropped on purpose: OpenSSL's message says nothing useful and nothing may leak.
      throw new MasterKeyMismatchError(wrapped.masterKeyId, keyId);
    }
  }
}
