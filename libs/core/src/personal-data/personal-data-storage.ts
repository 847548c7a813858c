import { PersonalDataDecryptionError } from '../errors/personal-data-decryption.error.js';
import type { EventRegistry } from '../events/event-registry.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { NewEvent, RecordedEvent } from '../events/recorded-event.js';
import { LruCache } from '../gateway/lru-cache.js';
import type { ChronicleStorage } from '../ports/chronicle-storage.port.js';
import type { AppendRequest, AppendResult, FeedPage, Journal } from '../ports/journal.port.js';
import type { ForgetResult, KeyStore, RotationResult } from '../ports/key-store.port.js';
import type { OutboxEntry, OutboxStore } from '../ports/outbox-store.port.js';
import type { Snapshot, SnapshotStore } from '../ports/snapshot-store.port.js';
import { FORGOTTEN_KEY, PersonalDataCipher, type PersonalDataCipherOptions } from './personal-data-cipher.js';

/** Options of `withPersonalData`. */
export interface PersonalDataStorageOptions extends PersonalDataCipherOptions {
  /** Where the data keys live (`InMemoryKeyStore`, `TypeOrmKeyStore`). */
  keyStore: KeyStore;
  /** The event classes, with their `@PersonalData` declarations (the aggregate catalog's registry). */
  events: EventRegistry;
  /**
   * How many streams this instance remembers the data keys of, to seal their snapshots. A
   * snapshot of a stream it does not remember is not saved (the aggregate replays instead).
   * @default 10000
   */
  streamsRemembered?: number;
  /**
   * Where the outbox claim reports an entry it dead-lettered because its personal value cannot be
   * opened (the relay never sees that entry). @default none: not reported
   */
  logger?: ChronicleLogger;
}

/** A `ChronicleStorage` whose personal data is sealed at rest, with the subject's `forget`. */
export interface PersonalDataStorage<Tx = unknown> extends ChronicleStorage<Tx> {
  /** The cipher the stores use. */
  readonly cipher: PersonalDataCipher;
  /** The key store. */
  readonly keyStore: KeyStore;
  /**
   * Destroys the subject's data key; resolves once it is durably gone, with when. From then on
   * every read through this storage sees the subject's personal fields as their replacements;
   * other instances see it within their key cache TTL (`keyCacheTtlMs`).
   */
  forget(subject: string): Promise<ForgetResult>;
  /** Re-wraps the data keys with the current master key (see `KeyStore.rotateMasterKey`). */
  rotateMasterKey(options?: { batchSize?: number }): Promise<RotationResult>;
}

function where(event: { type: string; streamId?: string; version?: number }): string {
  return `event "${event.type}"${event.streamId ? ` of stream ${event.streamId}` : ''}${event.version ? ` at version ${event.version}` : ''}`;
}

/**
 * Overrides some methods of a store and forwards every other property to it, bound. Each method is
 * bound once and handed out again while the store keeps it (the gateway reads them per command):
 * no function is created per property read.
 */
function overlay<T extends object>(inner: T, overrides: Partial<T>): T {
  const bound = new Map<PropertyKey, { method: (...args: unknown[]) => unknown; bound: (...args: unknown[]) => unknown }>();
  return new Proxy(inner, {
    get(target, property) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return (overrides as Record<PropertyKey, unknown>)[property];
      // The store itself as the receiver: its getters and private state stay its own.
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const known = bound.get(property);
      // Keyed by the method too: a store that replaces one gets the new one bound.
      if (known !== undefined && known.method === value) return known.bound;
      const method = value as (...args: unknown[]) => unknown;
      const entry = { method, bound: method.bind(target) };
      bound.set(property, entry);
      return entry.bound;
    },
  });
}

/**
 * Wraps a storage bundle so that the `@PersonalData` fields of events are encrypted before they
 * are stored (journal rows, and therefore outbox rows, which the journal's participants write
 * from the same sealed request), snapshots of streams holding personal data are sealed with the
 * stream's data keys, and every read (stream replay, the feed, tag reads, outbox claims and dead
 * letters, snapshots) opens them again: the value while its key exists, the declared replacement
 * once the subject is forgotten; a snapshot with a forgotten key is deleted and the aggregate replays.
 *
 * The tables, the wiring of participants and the migrations stay those of the wrapped bundle.
 */
export function withPersonalData<Tx>(storage: ChronicleStorage<Tx>, options: PersonalDataStorageOptions): PersonalDataStorage<Tx> {
  const cipher = new PersonalDataCipher(options.keyStore, options.events, options);
  // The data keys each stream's events used, known from this instance's appends and full reads:
  // what a snapshot of the stream must be sealed with.
  const streamKeys = new LruCache<string, Set<string>>(options.streamsRemembered ?? 10_000);
  const note = (streamId: string, keyIds: Iterable<string>, complete: boolean): void => {
    // `get` already refreshed a known stream: set it again only when it is new.
    const known = streamKeys.get(streamId);
    if (!known && !complete) return;
    const set = known ?? new Set<string>();
    for (const keyId of keyIds) set.add(keyId);
    if (!known) streamKeys.set(streamId, set);
  };

  // `tx`: the unit of work the events were read in; their keys are read in it too (see KeyStore.keyById).
  const openEvents = async (events: RecordedEvent[], tx?: Tx): Promise<{ events: RecordedEvent[]; keyIds: Map<string, string[]> }> => {
    const keyIds = new Map<string, string[]>();
    const opened: RecordedEvent[] = [];
    for (const event of events) {
      const { payload, keyIds: used } = await cipher.openPayload(event.type, event.payload, where(event), tx);
      opened.push(payload === event.payload ? event : { ...event, payload });
      if (used.length) keyIds.set(event.streamId, [...(keyIds.get(event.streamId) ?? []), ...used]);
    }
    return { events: opened, keyIds };
  };

  const inner = storage.journal;
  const journal = overlay<Journal<Tx>>(inner, {
    // Batched conditional units would reach the inner journal unsealed: without it the batcher
    // appends each unit through `append` below, which seals it.
    appendConditionalBatch: undefined,
    async append(request: AppendRequest): Promise<AppendResult> {
      // The caller gets back what it wrote (the replacement when its subject is forgotten), by event id.
      const plain = new Map<string, unknown>();
      const writes = request.writes.map((write) => ({ ...write, events: write.events.slice() }));
      const used = writes.map((): string[] => []);
      const keep = (w: number, e: number, sealed: { event: NewEvent; keyId?: string }): void => {
        const event = request.writes[w]!.events[e]!;
        if (sealed.event !== event) plain.set(event.eventId, sealed.keyId && sealed.keyId !== FORGOTTEN_KEY ? event.payload : sealed.event.payload);
        if (sealed.keyId) used[w]!.push(sealed.keyId);
        writes[w]!.events[e] = sealed.event;
      };
      // Events whose key is cached are sealed on the spot, one after another with no promise each;
      // the others are sealed concurrently (keys not cached are fetched at once, one fetch per key).
      let fetching: Promise<void>[] | undefined;
      try {
        request.writes.forEach((write, w) =>
          write.events.forEach((event, e) => {
            const sealed = cipher.sealEventCached(event);
            if (sealed) keep(w, e, sealed);
            else (fetching ??= []).push(cipher.sealEvent(event).then((later) => keep(w, e, later)));
          }),
        );
      } catch (error) {
        // Refused (no subject, a personal value in a tag): the fetches already started end unobserved.
        if (fetching) void Promise.allSettled(fetching);
        throw error;
      }
      if (fetching) await Promise.all(fetching);
      const result = await inner.append({ ...request, writes });
      request.writes.forEach((write, w) => note(write.streamId, used[w]!, write.expectedVersion === 0));
      if (plain.size === 0) return result;
      return {
        ...result,
        streams: result.streams.map((stream) => ({
          ...stream,
          events: stream.events.map((event) => {
            // A payload is never undefined (JSON): one lookup tells both whether and what.
            const payload = plain.get(event.eventId);
            return payload === undefined ? event : { ...event, payload };
          }),
        })),
      };
    },
    async readStream(streamId, readOptions) {
      const { events, keyIds } = await openEvents(await inner.readStream(streamId, readOptions));
      note(streamId, keyIds.get(streamId) ?? [], (readOptions?.fromVersion ?? 1) <= 1);
      return events;
    },
    async readAll(after, limit, readOptions): Promise<FeedPage> {
      const page = await inner.readAll(after, limit, readOptions);
      return { ...page, events: (await openEvents(page.events, readOptions?.tx)).events };
    },
    async readLatest(latestOptions) {
      return (await openEvents(await inner.readLatest(latestOptions))).events;
    },
    async readByTag(tag, tagOptions) {
      return (await openEvents(await inner.readByTag(tag, tagOptions))).events;
    },
    async readByQuery(query, queryOptions) {
      // A decision folds these events: it sees personal fields as every other read path does.
      const page = await inner.readByQuery(query, queryOptions);
      return { ...page, events: (await openEvents(page.events)).events };
    },
  });

  const snapshotLocation = (streamId: string, version: number): string => `snapshot of stream ${streamId} at version ${version}`;
  const innerSnapshots = storage.snapshots;
  const snapshots = overlay<SnapshotStore>(innerSnapshots, {
    async save(snapshot: Snapshot, keep: number): Promise<void> {
      const keyIds = streamKeys.get(snapshot.streamId);
      // Not known here: which keys the state needs is unknown, so it is not stored at all.
      if (!keyIds) return;
      const state = await cipher.sealState(snapshot.state, [...keyIds], snapshotLocation(snapshot.streamId, snapshot.version));
      if (state === undefined) return;
      await innerSnapshots.save({ ...snapshot, state }, keep);
    },
    async load(streamId, loadOptions) {
      const snapshot = await innerSnapshots.load(streamId, loadOptions);
      if (!snapshot) return snapshot;
      const opened = await cipher.openState(snapshot.state, snapshotLocation(streamId, snapshot.version));
      if (!opened) {
        // A key it was sealed with is forgotten: drop it; the events replay with replacements.
        await innerSnapshots.delete(streamId);
        return undefined;
      }
      note(streamId, opened.keyIds, true);
      return opened.state === snapshot.state ? snapshot : { ...snapshot, state: opened.state };
    },
  });

  const entryLocation = (entry: OutboxEntry): string =>
    `outbox entry ${entry.id} (${where({ type: entry.eventType, streamId: entry.streamId, version: entry.version })})`;
  const openEntry = async (entry: OutboxEntry): Promise<OutboxEntry> => {
    const { payload } = await cipher.openPayload(entry.eventType, entry.payload, entryLocation(entry));
    return payload === entry.payload ? entry : { ...entry, payload };
  };
  // Listings (the console's, the CLI's) show an entry whose value cannot be opened as stored
  // (sealed) rather than fail as a whole.
  const listEntries = async (entries: OutboxEntry[]): Promise<OutboxEntry[]> => {
    const listed: OutboxEntry[] = [];
    for (const entry of entries) {
      try {
        listed.push(await openEntry(entry));
      } catch (error) {
        if (!(error instanceof PersonalDataDecryptionError)) throw error;
        listed.push(entry);
      }
    }
    return listed;
  };
  const innerOutbox = storage.outbox;
  const outbox = overlay<OutboxStore<Tx>>(innerOutbox, {
    async claim(handler, owner, claimOptions) {
      // An entry whose personal value cannot be opened (a corrupt ciphertext, a key never issued)
      // is dead-lettered at once, as the relay parks an entry it cannot decode, and its stream's
      // later entries of this batch are released for the next claim: one bad row must not hold
      // every entry of the handler in a lease that fails again and again. A master key missing
      // or wrong is not the row's fault: that fails the claim (and the relay retries), as before.
      const claimed = await innerOutbox.claim(handler, owner, claimOptions);
      const opened: OutboxEntry[] = [];
      const poisoned = new Set<string>();
      const heldBack: string[] = [];
      for (const [index, entry] of claimed.entries()) {
        if (poisoned.has(entry.streamId)) {
          heldBack.push(entry.id);
          continue;
        }
        try {
          opened.push(await openEntry(entry));
        } catch (error) {
          if (!(error instanceof PersonalDataDecryptionError)) {
            // Failing the claim (a key store down, a master key missing): what it leased goes
            // back at once rather than waiting out the lease.
            const unreturned = [...opened.map((e) => e.id), ...heldBack, ...claimed.slice(index).map((e) => e.id)];
            await innerOutbox.release(handler, owner, unreturned).catch(() => undefined);
            throw error;
          }
          poisoned.add(entry.streamId);
          const reason = `Cannot be opened: ${error.message}`;
          if (await innerOutbox.deadLetter(handler, owner, entry.id, reason)) {
            options.logger?.warn(`Outbox entry ${entry.id} of "${handler}" (${entry.streamId}@${entry.version}) dead-lettered: ${reason}`);
          }
        }
      }
      if (heldBack.length > 0) await innerOutbox.release(handler, owner, heldBack);
      return opened;
    },
    async leased(handler, limit) {
      return listEntries(await innerOutbox.leased(handler, limit));
    },
    async deadLetters(handler, limit) {
      return listEntries(await innerOutbox.deadLetters(handler, limit));
    },
    async backfill(handler, events, cursor, done) {
      // Backfilled events come from the feed, opened: sealed again before they become rows.
      const sealed: RecordedEvent[] = [];
      for (const event of events) sealed.push({ ...event, ...(await cipher.sealEvent(event)).event });
      return innerOutbox.backfill(handler, sealed, cursor, done);
    },
  });

  return {
    journal,
    snapshots,
    outbox,
    checkpoints: storage.checkpoints,
    sagas: storage.sagas,
    notifications: storage.notifications,
    migrate: () => storage.migrate(),
    cipher,
    keyStore: options.keyStore,
    forget: (subject) => cipher.forget(subject),
    rotateMasterKey: (rotation) => options.keyStore.rotateMasterKey(rotation),
  };
}
