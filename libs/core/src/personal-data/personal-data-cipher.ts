import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '../errors/invalid-argument.error.js';
import { PersonalDataDecryptionError } from '../errors/personal-data-decryption.error.js';
import { PersonalDataLeakError } from '../errors/personal-data-leak.error.js';
import { PersonalDataSubjectError } from '../errors/personal-data-subject.error.js';
import type { EventClassMetadata } from '../events/event.decorator.js';
import type { EventRegistry } from '../events/event-registry.js';
import type { JsonObject, JsonValue } from '../events/json.js';
import type { NewEvent } from '../events/recorded-event.js';
import type { DataKeyLookup, ForgetResult, KeyStore } from '../ports/key-store.port.js';

/** Options of `PersonalDataCipher`. */
export interface PersonalDataCipherOptions {
  /**
   * How long an instance uses a data key it checked. It bounds how long another instance's
   * `forget` takes to be seen here: past it, this instance re-checks its cached keys (one
   * `forgottenAmong` query for all of them, or a fetch per key when the key store lacks it) and
   * drops those that are gone. A `forget` through this instance drops the key at once.
   * @default 1000
   */
  keyCacheTtlMs?: number;
  /** Milliseconds of a monotonic clock, for the cache's expiry. @default performance.now */
  monotonicNow?: () => number;
}

/** `PersonalDataCipherOptions` defaults. */
export const PERSONAL_DATA_CIPHER_DEFAULTS = { keyCacheTtlMs: 1000 } as const;

/**
 * What `sealEvent` reports as the key of an event whose subject is forgotten: no key exists, and a
 * snapshot of its stream must not be stored (the cached aggregate may hold what the command sent).
 */
export const FORGOTTEN_KEY = '!forgotten';

/** The stored form of one personal value: key id, nonce, tag and ciphertext beside each other. */
interface SealedValue {
  $pd: 1;
  k: string;
  n: string;
  t: string;
  c: string;
}

/** The stored form of a snapshot state holding personal data: encrypted once per key, innermost first. */
interface SealedState {
  $pdState: 1;
  layers: { k: string; n: string; t: string }[];
  c: string;
}

function isSealedValue(value: unknown): value is SealedValue {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v.$pd === 1 && typeof v.k === 'string' && typeof v.n === 'string' && typeof v.t === 'string' && typeof v.c === 'string';
}

function isSealedState(value: unknown): value is SealedState {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v.$pdState === 1 && Array.isArray(v.layers) && typeof v.c === 'string';
}

/**
 * Nonces drawn from the CSPRNG in bulk: one `randomBytes(12)` per value cost more than the
 * encryption itself (a quarter of the sealing time, profiled). Each 12 bytes are handed out once,
 * so they are exactly as random and as unique as single draws.
 */
const noncePool = Buffer.alloc(12 * 512);
let nonceOffset = noncePool.length;

/** Encodes associated data into memory of its own (see `aadOf`). */
const utf8 = new TextEncoder();

/**
 * Encrypts with the next nonce of the pool. The nonce is read in place (`createCipheriv` copies it)
 * and its base64 is taken from the pool, so a value costs no buffer of its own for it; GCM's
 * `final` adds no ciphertext, so `update`'s output is the whole ciphertext (no concat). A string
 * plaintext is handed to `update` as UTF-8 text, encoded on the native side: no buffer of its own either.
 */
function encrypt(key: KeyObject, plaintext: Buffer | string, aad: Uint8Array): { n: string; t: string; c: Buffer } {
  if (nonceOffset === noncePool.length) {
    randomFillSync(noncePool);
    nonceOffset = 0;
  }
  const start = nonceOffset;
  nonceOffset += 12;
  const cipher = createCipheriv('aes-256-gcm', key, noncePool.subarray(start, start + 12));
  cipher.setAAD(aad);
  const c = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  const rest = cipher.final();
  return { n: noncePool.toString('base64', start, start + 12), t: cipher.getAuthTag().toString('base64'), c: rest.length === 0 ? c : Buffer.concat([c, rest]) };
}

function decrypt(key: KeyObject, sealed: { n: string; t: string }, ciphertext: Buffer, aad: string): Buffer {
  const nonce = Buffer.from(sealed.n, 'base64');
  const tag = Buffer.from(sealed.t, 'base64');
  if (nonce.length !== 12 || tag.length !== 16) throw new Error('the nonce or the tag has the wrong length');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** The strings inside a JSON value (a personal value may be an object or an array). */
function stringsIn(value: unknown, depth = 0): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object' || depth > 32) return [];
  return Object.values(value as Record<string, unknown>).flatMap((item) => stringsIn(item, depth + 1));
}

/** A data key ready for `createCipheriv`, and the associated data of its fields. */
interface SealingMaterial {
  /**
   * The key as a KeyObject: `createCipheriv` takes its handle as is, where raw bytes are copied
   * into a new key on every call (about 1 µs of the 7 a sealed value costs, measured).
   */
  key: KeyObject;
  /**
   * The associated data of a value (`keyId|field`) as bytes, by field: the same few fields of a
   * subject are sealed again and again. Encoded into memory of its own: a pooled `Buffer.from`
   * would keep a whole 8 KiB pool slab alive per cached key.
   */
  aads: Map<string, Uint8Array>;
}

/** The associated data of `field` sealed with `keyId`, kept in the key's material. */
function aadOf(material: SealingMaterial, keyId: string, field: string): Uint8Array {
  let aad = material.aads.get(field);
  if (aad === undefined) {
    aad = utf8.encode(`${keyId}|${field}`);
    material.aads.set(field, aad);
  }
  return aad;
}

interface CachedKey {
  lookup: DataKeyLookup;
  /** When the key was last known not to be forgotten (a fetch's or a revalidation's start). */
  checkedAt: number;
  /** A subject's entry: set once its key's entry by id (`k:`) was looked for and added when missing. */
  paired?: boolean;
}

/**
 * Encrypts the `@PersonalData` fields of events (AES-256-GCM, a fresh 12-byte nonce per value, the
 * subject's data key from the `KeyStore`) and opens them again, reading a forgotten subject's
 * values as their declared replacement. Also seals and opens snapshot states. Plain fields are
 * untouched; nothing it throws or logs carries a personal value.
 */
export class PersonalDataCipher {
  private readonly cache = new Map<string, CachedKey>();
  private readonly materials = new WeakMap<DataKeyLookup, SealingMaterial>();
  private revalidating: Promise<void> | undefined;
  private readonly fetching = new Map<string, Promise<DataKeyLookup | undefined>>();
  /**
   * Counts the forgets made through this instance. A fetch that was in flight across one may carry
   * the key as it was before it (read just before the forget committed): its answer goes to its
   * own caller, which was concurrent with the forget, but is not cached, or a later read in this
   * instance would see the value again until the TTL.
   */
  private forgets = 0;
  /** Key ids a key store said it never issued, by when: see `knownMissing`. */
  private readonly missing = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly keyStore: KeyStore,
    /** The event classes it seals by: their `@PersonalData` fields and subjects (the `events` given to `withPersonalData`). */
    readonly registry: EventRegistry,
    options: PersonalDataCipherOptions = {},
  ) {
    this.ttlMs = options.keyCacheTtlMs ?? PERSONAL_DATA_CIPHER_DEFAULTS.keyCacheTtlMs;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs < 0) {
      throw new InvalidArgumentError('keyCacheTtlMs', this.ttlMs, 'a finite number of milliseconds, 0 or more');
    }
    this.now = options.monotonicNow ?? (() => performance.now());
  }

  /** Whether events of this stored type carry personal fields (by the current declaration). */
  hasPersonalData(type: string): boolean {
    return this.metadataOf(type)?.personalFields.length ? true : false;
  }

  /**
   * Seals the personal fields of a new event. Returns the event to store (same id, plain fields
   * as they were) and the key id used: none when the event holds no personal data, the marker
   * `FORGOTTEN_KEY` when its subject is forgotten (then the replacement is stored, never the value).
   */
  async sealEvent(event: NewEvent): Promise<{ event: NewEvent; keyId?: string }> {
    const metadata = this.metadataOf(event.type);
    if (!metadata || metadata.personalFields.length === 0) return { event };
    const subject = this.checkedSubject(event, metadata);
    const lookup = this.cached(`s:${subject}`) ?? (await this.lookup(`s:${subject}`, () => this.keyStore.keyFor(subject)));
    return this.sealWith(event, metadata, subject, lookup);
  }

  /**
   * `sealEvent` without waiting: the sealed event when the subject's key is cached and checked
   * within the TTL (or the event holds no personal data), `undefined` when the key must be fetched
   * first (then call `sealEvent`). A group commit seals its events with it one after another, with
   * no promise per event. Throws what `sealEvent` rejects with (a missing subject, a tag holding a
   * personal value).
   */
  sealEventCached(event: NewEvent): { event: NewEvent; keyId?: string } | undefined {
    const metadata = this.metadataOf(event.type);
    if (!metadata || metadata.personalFields.length === 0) return { event };
    const subject = this.checkedSubject(event, metadata);
    const lookup = this.cached(`s:${subject}`);
    return lookup === undefined ? undefined : this.sealWith(event, metadata, subject, lookup);
  }

  /** The event's subject, after refusing tags that carry one of its personal values. */
  private checkedSubject(event: NewEvent, metadata: EventClassMetadata): string {
    const payload = event.payload as JsonObject;
    const subject = this.subjectOf(metadata, payload);
    if (event.tags.length > 0) {
      for (const field of metadata.personalFields) {
        const strings = stringsIn(payload[field.name]).filter((value) => value.length >= 3);
        if (strings.some((value) => event.tags.some((tag) => tag.includes(value)))) throw new PersonalDataLeakError(event.type, field.name);
      }
    }
    return subject;
  }

  private sealWith(event: NewEvent, metadata: EventClassMetadata, subject: string, lookup: DataKeyLookup): { event: NewEvent; keyId?: string } {
    const payload = event.payload as JsonObject;
    // The same key serves the snapshot of this stream (looked up by id): no fetch for it later.
    // Checked once per cached subject entry (`paired`), not by a lookup per event.
    if (lookup.state === 'active') {
      const entry = this.cache.get(`s:${subject}`);
      if (entry !== undefined && entry.paired !== true) {
        entry.paired = true;
        if (!this.cache.has(`k:${lookup.keyId}`)) this.cache.set(`k:${lookup.keyId}`, { lookup, checkedAt: entry.checkedAt });
      }
    }
    const sealed: JsonObject = { ...payload };
    for (const field of metadata.personalFields) {
      const value = payload[field.name];
      if (value === undefined || !(field.name in payload)) continue;
      if (lookup.state === 'forgotten') {
        sealed[field.name] = structuredClone(field.replacement);
        continue;
      }
      const material = this.materialOf(lookup);
      const { n, t, c } = encrypt(material.key, JSON.stringify(value), aadOf(material, lookup.keyId, field.name));
      sealed[field.name] = { $pd: 1, k: lookup.keyId, n, t, c: c.toString('base64') } satisfies SealedValue as unknown as JsonValue;
    }
    return { event: { ...event, payload: sealed }, keyId: lookup.state === 'active' ? lookup.keyId : FORGOTTEN_KEY };
  }

  /**
   * What sealing and opening with an active key need beyond the key's bytes, made once per cached lookup and
   * held weakly, so it goes with the lookup (a forgotten key's lookup is dropped from the cache).
   */
  private materialOf(lookup: DataKeyLookup & { state: 'active' }): SealingMaterial {
    let material = this.materials.get(lookup);
    if (material === undefined) {
      material = { key: createSecretKey(lookup.key), aads: new Map() };
      this.materials.set(lookup, material);
    }
    return material;
  }

  /**
   * Opens the sealed values of a stored payload: each decrypted, or the declared replacement
   * (default null) when its key was forgotten. Payloads without sealed values come back as they
   * are. `location` names the row in errors (type, stream, version), never a value.
   *
   * A field the event's class declares personal (or any field, when the type is not registered
   * here) must open: a key never issued or a ciphertext that does not authenticate is a
   * `PersonalDataDecryptionError`. Another field whose value merely has the sealed shape (a client
   * may send `{ "$pd": 1, … }` in free JSON; or a field declared personal in an earlier version of
   * the class) is opened when it does open, reads as null when its key was forgotten, and is
   * otherwise read back as stored (a key never issued, a value that does not authenticate). A
   * master key missing or wrong fails the read either way: that is configuration, not the row.
   */
  async openPayload(type: string, payload: unknown, location: string, tx?: unknown): Promise<{ payload: unknown; keyIds: string[] }> {
    let parsed = payload;
    if (typeof payload === 'string') {
      if (!payload.includes('"$pd"')) return { payload, keyIds: [] };
      try {
        parsed = JSON.parse(payload) as unknown;
      } catch {
        return { payload, keyIds: [] };
      }
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { payload, keyIds: [] };
    const object = parsed as JsonObject;
    // Looked up at the first sealed value only: most payloads hold none, and a type this registry
    // does not know costs an error (with its stack) to find out.
    let metadata: EventClassMetadata | undefined | null = null;
    let opened: JsonObject | undefined;
    const keyIds: string[] = [];
    for (const [name, value] of Object.entries(object)) {
      if (!isSealedValue(value)) continue;
      if (metadata === null) metadata = this.metadataOf(type);
      const field = metadata?.personalFields.find((f) => f.name === name);
      const mustOpen = metadata === undefined || field !== undefined;
      // A plain field's sealed-looking value whose key is not issued: known for a TTL, so that a
      // client's `{ "$pd": 1, k: <made up> }` costs one key-store read per TTL, not one per read.
      if (!mustOpen && this.knownMissing(value.k)) continue;
      const refuse = (reason: string, cause?: unknown): undefined => {
        if (!mustOpen) return undefined;
        throw new PersonalDataDecryptionError(`${location} field "${name}"`, value.k, reason, cause === undefined ? undefined : { cause: new Error((cause as Error).message) });
      };
      // A key id no key store issues is not looked up (the stores refuse it as an argument).
      if (value.k.length === 0 || value.k.length > 64) {
        refuse('its key id is malformed');
        continue;
      }
      const cacheKey = `k:${value.k}`;
      const lookup =
        this.cached(cacheKey) ??
        (await (tx === undefined
          ? this.lookup(cacheKey, () => this.keyStore.keyById(value.k))
          : this.lookupInside(cacheKey, () => this.keyStore.keyById(value.k, { tx }))));
      if (!lookup) {
        if (!mustOpen) this.rememberMissing(value.k);
        refuse('the key store never issued its data key');
        continue;
      }
      if (lookup.state === 'forgotten') {
        opened ??= { ...object };
        // Forgotten keys are listed too: a snapshot of a stream that used one is never stored again.
        keyIds.push(value.k);
        opened[name] = structuredClone(field?.replacement ?? null);
        continue;
      }
      let plain: JsonValue;
      try {
        plain = JSON.parse(decrypt(this.materialOf(lookup).key, value, Buffer.from(value.c, 'base64'), `${value.k}|${name}`).toString('utf8')) as JsonValue;
      } catch (error) {
        refuse('its ciphertext, nonce or tag does not authenticate', error);
        continue;
      }
      opened ??= { ...object };
      keyIds.push(value.k);
      opened[name] = plain;
    }
    return { payload: opened ?? payload, keyIds: [...new Set(keyIds)] };
  }

  /** Seals a snapshot state with every listed key (one layer each); the state as is when none. */
  async sealState(state: unknown, keyIds: readonly string[], location: string): Promise<unknown | undefined> {
    if (keyIds.length === 0) return state;
    // The state was built from a command on a forgotten subject: it may hold what the caller sent.
    if (keyIds.includes(FORGOTTEN_KEY)) return undefined;
    let bytes: Buffer = Buffer.from(JSON.stringify(state), 'utf8');
    const layers: SealedState['layers'] = [];
    for (const keyId of [...keyIds].sort()) {
      const lookup = await this.lookup(`k:${keyId}`, () => this.keyStore.keyById(keyId));
      // A key gone (or unknown) since the state was built: the state may still hold what was
      // forgotten (a cached aggregate), so it is not stored at all.
      if (!lookup || lookup.state !== 'active') return undefined;
      const { n, t, c } = encrypt(this.materialOf(lookup).key, bytes, Buffer.from(`${keyId}|${location}`, 'utf8'));
      layers.push({ k: keyId, n, t });
      bytes = c;
    }
    return { $pdState: 1, layers, c: bytes.toString('base64') } satisfies SealedState;
  }

  /**
   * Opens a snapshot state sealed by `sealState`: `undefined` when any of its keys was forgotten
   * (the snapshot is then ignored and the aggregate replays its events, which read as replacements).
   */
  async openState(state: unknown, location: string): Promise<{ state: unknown; keyIds: string[] } | undefined> {
    if (!isSealedState(state)) return { state, keyIds: [] };
    let bytes: Buffer = Buffer.from(state.c, 'base64');
    const keyIds = state.layers.map((layer) => layer.k);
    for (const layer of [...state.layers].reverse()) {
      const lookup = await this.lookup(`k:${layer.k}`, () => this.keyStore.keyById(layer.k));
      if (!lookup || lookup.state === 'forgotten') return undefined;
      try {
        bytes = decrypt(this.materialOf(lookup).key, layer, bytes, `${layer.k}|${location}`);
      } catch (error) {
        throw new PersonalDataDecryptionError(location, layer.k, 'the sealed snapshot does not authenticate', {
          cause: new Error((error as Error).message),
        });
      }
    }
    return { state: JSON.parse(bytes.toString('utf8')) as unknown, keyIds };
  }

  /** Forgets the subject in the key store and drops its key from this instance's cache at once. */
  async forget(subject: string): Promise<ForgetResult> {
    const cached = this.cache.get(`s:${subject}`);
    const result = await this.keyStore.forget(subject);
    this.forgets++;
    // Lookups from now on must not join a fetch that started before the forget.
    this.fetching.clear();
    this.cache.delete(`s:${subject}`);
    if (cached?.lookup.keyId) this.cache.delete(`k:${cached.lookup.keyId}`);
    // The key id may be cached without its subject entry: drop every entry of this subject.
    for (const [id, entry] of this.cache) if (entry.lookup.subject === subject) this.cache.delete(id);
    return result;
  }

  /**
   * A key from the cache while it was checked within the TTL; one `forgottenAmong` query (shared by
   * every caller, covering every cached key, started in the background past half the TTL) re-checks
   * the whole cache where the key store offers it, so a steady stream of events costs no key-store
   * round trip per event; else the key is fetched again once its TTL is over. A forgotten key stays
   * forgotten: that answer is kept for good.
   */
  /** The cached key when it is usable now (starting the background re-check when due); else undefined. */
  private cached(cacheKey: string): DataKeyLookup | undefined {
    const cached = this.cache.get(cacheKey);
    if (cached === undefined) return undefined;
    if (cached.lookup.state === 'forgotten') return cached.lookup;
    // One clock reading for both checks: this runs for every sealed event.
    const now = this.now();
    if (now >= cached.checkedAt + this.ttlMs) return undefined;
    // Refresh ahead: past half the TTL the re-check starts in the background, so that under a
    // steady load it is done before any key expires and no command waits for it.
    // While a re-check runs, nothing more to start (no promise per event for it).
    if (this.revalidating === undefined && this.keyStore.forgottenAmong && now >= cached.checkedAt + this.ttlMs / 2) {
      this.revalidate().catch(() => undefined); // a failed re-check is retried by the next lookup; the TTL still bounds use
    }
    return cached.lookup;
  }

  private async lookup<L extends DataKeyLookup | undefined>(cacheKey: string, fetch: () => Promise<L>): Promise<L> {
    const usable = this.cached(cacheKey);
    if (usable) return usable as L;
    const cached = this.cache.get(cacheKey);
    if (cached && this.keyStore.forgottenAmong) {
      await this.revalidate();
      const again = this.cache.get(cacheKey);
      if (again && this.usable(again)) return again.lookup as L;
    }
    // Events of one subject sealed at once (a group commit) share one fetch.
    const pending = this.fetching.get(cacheKey);
    if (pending) return pending as Promise<L>;
    const fetching: Promise<L> = (async () => {
      const checkedAt = this.now();
      const forgets = this.forgets;
      const lookup = await fetch();
      this.rememberFetched(cacheKey, lookup, checkedAt, forgets);
      return lookup;
    })().finally(() => {
      // A forget may have cleared this entry and a later lookup put its own fetch there.
      if (this.fetching.get(cacheKey) === fetching) this.fetching.delete(cacheKey);
    });
    this.fetching.set(cacheKey, fetching);
    return fetching;
  }

  /**
   * A lookup from inside the caller's unit of work: fetched on it, never waiting for a re-check or
   * a fetch that runs beside it (on SQLite those wait for the one connection the unit holds).
   */
  private async lookupInside<L extends DataKeyLookup | undefined>(cacheKey: string, fetch: () => Promise<L>): Promise<L> {
    const checkedAt = this.now();
    const forgets = this.forgets;
    const lookup = await fetch();
    this.rememberFetched(cacheKey, lookup, checkedAt, forgets);
    return lookup;
  }

  /**
   * Caches a fetched lookup, unless a forget went through this instance while it was fetched and
   * the key came back active (see `forgets`); a forgotten answer is always kept.
   */
  private rememberFetched(cacheKey: string, lookup: DataKeyLookup | undefined, checkedAt: number, forgetsAtStart: number): void {
    if (!lookup || this.ttlMs <= 0) return;
    if (lookup.state === 'active' && this.forgets !== forgetsAtStart) return;
    this.remember(cacheKey, { lookup, checkedAt });
  }

  /** Caches a lookup, the oldest entry out past 20,000 (a rebuild over many subjects stays bounded). */
  private remember(cacheKey: string, entry: CachedKey): void {
    this.cache.set(cacheKey, entry);
    if (this.cache.size > 20_000) this.cache.delete(this.cache.keys().next().value!);
  }

  private usable(entry: CachedKey): boolean {
    return entry.lookup.state === 'forgotten' || this.now() < entry.checkedAt + this.ttlMs;
  }

  /** One re-check of every cached active key at a time; whoever needs one while it runs waits for it. */
  private revalidate(): Promise<void> {
    this.revalidating ??= (async () => {
      const startedAt = this.now();
      const entries = [...this.cache.entries()].filter(([, entry]) => entry.lookup.state === 'active');
      const keyIds = [...new Set(entries.map(([, entry]) => entry.lookup.keyId!))];
      const forgotten = new Set(await this.keyStore.forgottenAmong!(keyIds));
      for (const [cacheKey, entry] of entries) {
        // Gone keys are dropped (the next lookup fetches their tombstone); the others were checked now.
        if (forgotten.has(entry.lookup.keyId!)) this.cache.delete(cacheKey);
        else if (this.cache.get(cacheKey) === entry) entry.checkedAt = Math.max(entry.checkedAt, startedAt);
      }
    })().finally(() => {
      this.revalidating = undefined;
    });
    return this.revalidating;
  }

  /** Whether the key store said within the TTL that it never issued `keyId`. */
  private knownMissing(keyId: string): boolean {
    const at = this.missing.get(keyId);
    if (at === undefined) return false;
    if (this.now() < at + this.ttlMs) return true;
    this.missing.delete(keyId);
    return false;
  }

  /** Notes a key id never issued, the oldest out past 1,000 (made-up ids must not grow the map). */
  private rememberMissing(keyId: string): void {
    if (this.ttlMs <= 0) return;
    this.missing.delete(keyId);
    this.missing.set(keyId, this.now());
    if (this.missing.size > 1_000) this.missing.delete(this.missing.keys().next().value!);
  }

  private metadataOf(type: string): EventClassMetadata | undefined {
    try {
      return this.registry.forType(type).metadata;
    } catch {
      return undefined;
    }
  }

  private subjectOf(metadata: EventClassMetadata, payload: JsonObject): string {
    let subject: unknown;
    if (typeof metadata.subject === 'function') {
      const instance = Object.assign(Object.create((this.registry.forType(metadata.type).eventClass as { prototype: object }).prototype) as object, payload);
      subject = metadata.subject(instance);
    } else if (typeof metadata.subject === 'string') {
      subject = payload[metadata.subject];
    }
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 200) {
      throw new PersonalDataSubjectError(metadata.type, typeof subject === 'string' ? `a string of ${subject.length} characters` : String(subject === null ? 'null' : typeof subject));
    }
    return subject;
  }
}
