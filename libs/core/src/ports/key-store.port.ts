/**
 * A subject's data key as a key store hands it out: `state: 'active'` with the raw 32-byte AES key,
 * or `state: 'forgotten'` once `forget` destroyed it (no key material left anywhere in the store).
 */
export type DataKeyLookup =
  | { state: 'active'; keyId: string; subject: string; key: Uint8Array }
  | { state: 'forgotten'; keyId: string | null; subject: string; forgottenAt: Date };

/** What `KeyStore.forget` did. */
export interface ForgetResult {
  subject: string;
  /** When the key was destroyed (the first `forget` of the subject; later calls report the same time). */
  forgottenAt: Date;
  /** False when the subject had already been forgotten by an earlier call. */
  destroyedNow: boolean;
}

/** What `KeyStore.rotateMasterKey` did. */
export interface RotationResult {
  /** Data keys re-wrapped with the current master key by this call. */
  rewrapped: number;
}

/**
 * The data keys of crypto-shredding, one per data subject, wrapped at rest by a master key
 * (envelope encryption).
 *
 * Guarantees, checked by the key-store contract suite on every implementation:
 * - `keyFor(subject)` creates the subject's key on first use; every caller, in any process, gets the
 *   same key for the same subject (concurrent first uses agree on one).
 * - `keyById` returns the key a sealed value names, or `forgotten`; `undefined` for an id the
 *   store never issued.
 * - `forget(subject)` destroys the key durably before it resolves; afterwards `keyFor` and
 *   `keyById` report `forgotten` for ever (a forgotten subject never gets a new key, so events
 *   written later store the declared replacement). Forgetting an unknown subject records the
 *   tombstone all the same. Idempotent: later calls report the first time.
 * - `rotateMasterKey` re-wraps every data key with the current master key while readers and
 *   writers continue (keys wrapped by any configured master key stay readable); data keys and
 *   sealed values are not changed.
 * - `forgottenAmong`, where implemented, reports every listed key forgotten before the call began.
 * - No method puts key material or personal values into an error message.
 */
/** Options of {@link KeyStore.keyById}. */
export interface KeyReadOptions {
  /** Read inside this unit of work (the storage bundle's transaction: an EntityManager for TypeORM). */
  tx?: unknown;
}

export interface KeyStore {
  /** The subject's key, created on first use; `forgotten` once the subject was forgotten. */
  keyFor(subject: string): Promise<DataKeyLookup>;
  /**
   * The key with this id, `forgotten`, or undefined when the id was never issued. With
   * `options.tx`, the read runs inside that unit of work (the storage bundle's transaction type):
   * a rebuild opens the events it replays inside its own transaction, and on SQLite that
   * transaction holds the one connection, so a read beside it would wait for ever.
   */
  keyById(keyId: string, options?: KeyReadOptions): Promise<DataKeyLookup | undefined>;
  /** Destroys the subject's key. */
  forget(subject: string): Promise<ForgetResult>;
  /**
   * Re-wraps the data keys wrapped by an older master key with the current one, `batchSize` keys
   * per read (each key re-wrapped in its own short write, so commands never wait behind it).
   * Resolves when no key is left under an older master key. `batchSize` defaults to 100.
   */
  rotateMasterKey(options?: { batchSize?: number }): Promise<RotationResult>;
  /**
   * Of these key ids, the ones that are forgotten now (ids never issued are left out). Lets an
   * instance that caches data keys learn about every `forget` made elsewhere with one query per
   * cache period instead of fetching each key again. Optional: without it, each cached key is
   * fetched again once its cache period ends.
   */
  forgottenAmong?(keyIds: readonly string[]): Promise<string[]>;
}
