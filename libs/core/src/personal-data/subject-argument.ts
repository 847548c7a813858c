import { InvalidArgumentError } from '../errors/invalid-argument.error.js';

/** The subject check every `KeyStore` applies: a non-empty string of at most 200 characters. */
export function checkSubject(subject: unknown): asserts subject is string {
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > 200) {
    throw new InvalidArgumentError('subject', subject, 'a non-empty string of at most 200 characters');
  }
}

/** The key id check every `KeyStore` applies. */
export function checkKeyId(keyId: unknown): asserts keyId is string {
  if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 64) {
    throw new InvalidArgumentError('keyId', keyId, 'a non-empty string of at most 64 characters');
  }
}
