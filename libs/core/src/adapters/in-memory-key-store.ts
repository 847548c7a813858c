import { randomBytes, randomUUID } from 'node:crypto';
import { MasterKeyRing, type MasterKeyOptions, type WrappedKey } from '../personal-data/master-key-ring.js';
import type { DataKeyLookup, ForgetResult, KeyStore, RotationResult } from '../ports/key-store.port.js';
import { checkKeyId, checkSubject } from '../personal-data/subject-argument.js';

interface Row {
  keyId: string;
  subject: string;
  wrapped: WrappedKey | null;
  forgottenAt: Date | null;
}

/** Options of `InMemoryKeyStore`. */
export interface InMemoryKeyStoreOptions {
  /** The master keys; the in-memory store wraps its keys too, so rotation behaves as in a database. */
  masterKeys: MasterKeyOptions;
  /** The time `forget` reports. @default () => new Date() */
  now?: () => Date;
}

/**
 * A `KeyStore` in process memory, held to the same contract suite as the database adapter; for
 * tests, prototypes and `storage: 'in-memory'`.
 */
export class InMemoryKeyStore implements KeyStore {
  private readonly bySubject: Map<string, Row>;
  private readonly byKeyId: Map<string, Row>;
  private readonly ring: MasterKeyRing;
  private readonly now: () => Date;

  constructor(options: InMemoryKeyStoreOptions, shared?: InMemoryKeyStore) {
    this.ring = new MasterKeyRing(options?.masterKeys);
    this.now = options?.now ?? (() => new Date());
    this.bySubject = shared?.bySubject ?? new Map();
    this.byKeyId = shared?.byKeyId ?? new Map();
  }

  /** Another store over the same keys with other master keys, as a second instance of an application would be. */
  withMasterKeys(masterKeys: MasterKeyOptions): InMemoryKeyStore {
    return new InMemoryKeyStore({ masterKeys, now: this.now }, this);
  }

  async keyFor(subject: string): Promise<DataKeyLookup> {
    checkSubject(subject);
    let row = this.bySubject.get(subject);
    if (!row) {
      const keyId = randomUUID();
      row = { keyId, subject, wrapped: this.ring.wrap(keyId, randomBytes(32)), forgottenAt: null };
      this.bySubject.set(subject, row);
      this.byKeyId.set(keyId, row);
    }
    return this.lookup(row);
  }

  async keyById(keyId: string): Promise<DataKeyLookup | undefined> {
    checkKeyId(keyId);
    const row = this.byKeyId.get(keyId);
    return row ? this.lookup(row) : undefined;
  }

  async forget(subject: string): Promise<ForgetResult> {
    checkSubject(subject);
    const row = this.bySubject.get(subject);
    if (row?.forgottenAt) return { subject, forgottenAt: row.forgottenAt, destroyedNow: false };
    const forgottenAt = this.now();
    if (row) {
      row.wrapped = null;
      row.forgottenAt = forgottenAt;
    } else {
      this.bySubject.set(subject, { keyId: randomUUID(), subject, wrapped: null, forgottenAt });
    }
    return { subject, forgottenAt, destroyedNow: true };
  }

  async rotateMasterKey(): Promise<RotationResult> {
    let rewrapped = 0;
    for (const row of this.bySubject.values()) {
      if (!row.wrapped || row.wrapped.masterKeyId === this.ring.currentId) continue;
      row.wrapped = this.ring.wrap(row.keyId, this.ring.unwrap(row.keyId, row.wrapped));
      rewrapped++;
    }
    return { rewrapped };
  }

  /** Of these key ids, the ones forgotten (see `KeyStore.forgottenAmong`). */
  async forgottenAmong(keyIds: readonly string[]): Promise<string[]> {
    keyIds.forEach(checkKeyId);
    return keyIds.filter((keyId) => this.byKeyId.get(keyId)?.forgottenAt);
  }

  private lookup(row: Row): DataKeyLookup {
    if (row.forgottenAt || !row.wrapped) {
      return { state: 'forgotten', keyId: row.keyId, subject: row.subject, forgottenAt: row.forgottenAt ?? this.now() };
    }
    return { state: 'active', keyId: row.keyId, subject: row.subject, key: this.ring.unwrap(row.keyId, row.wrapped) };
  }
}
