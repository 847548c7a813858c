import { describe, expect, it } from '@jest/globals';
import { InMemoryKeyStore } from '../adapters/in-memory-key-store.js';
import { createInMemoryStorage } from '../adapters/in-memory-storage.js';
import { Aggregate } from '../aggregates/aggregate.decorator.js';
import { Applies } from '../aggregates/applies.decorator.js';
import { Handles } from '../aggregates/handles.decorator.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { MasterKeyMismatchError } from '../errors/master-key-mismatch.error.js';
import { MasterKeyMissingError } from '../errors/master-key-missing.error.js';
import { PersonalDataDecryptionError } from '../errors/personal-data-decryption.error.js';
import { PersonalDataLeakError } from '../errors/personal-data-leak.error.js';
import { PersonalDataSubjectError } from '../errors/personal-data-subject.error.js';
import { EventRegistry } from '../events/event-registry.js';
import { Event } from '../events/event.decorator.js';
import type { JsonObject } from '../events/json.js';
import { PersonalData } from '../events/personal-data.decorator.js';
import type { NewEvent } from '../events/recorded-event.js';
import { On } from '../projections/on.decorator.js';
import { Projection } from '../projections/projection.decorator.js';
import { projectionSubscriptionName } from '../projections/projection-handler.js';
import { createChronicle } from '../runtime/create-chronicle.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { PersonalDataCipher } from './personal-data-cipher.js';
import { withPersonalData } from './personal-data-storage.js';

const key = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
const MASTER = { current: { id: 'm1', key: key(3) } };
const NAME = 'Hieronymus Bluebottle';

class Register {
  constructor(
    readonly personId: string,
    readonly name: string,
  ) {}
}

@Event('person.registered', { subject: 'personId' })
class Registered {
  @PersonalData() readonly name!: string | null;
  constructor(
    readonly personId: string,
    name: string,
  ) {
    this.name = name;
  }
}

@Aggregate({ name: 'person', id: 'personId' })
class Person {
  name: string | null = null;
  @Handles(Register, { creates: true }) register(cmd: Register) {
    return new Registered(cmd.personId, cmd.name);
  }
  @Applies(Registered) onRegistered(event: Registered) {
    this.name = event.name;
  }
}

const registry = (): EventRegistry => new EventRegistry().register(Registered);

function newEvent(payload: JsonObject): NewEvent {
  return { eventId: 'e1', type: 'person.registered', schemaVersion: 1, payload, metadata: {}, tags: [], occurredAt: new Date(0) };
}

function capture(lines: string[]): () => ChronicleLogger {
  return () => ({ log: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m), error: (m: string, t?: string) => void lines.push(`${m} ${t ?? ''}`) });
}

function expectNoPlaintext(error: unknown): void {
  const text = `${(error as Error).message} ${String((error as Error).stack)} ${String((error as { cause?: Error }).cause?.message)}`;
  expect(text).not.toContain(NAME);
  expect(text).not.toContain(Buffer.from(NAME).toString('base64').slice(0, 12));
}

describe('Personal data: faults and bounds', () => {
  it('refuses to start without a master key, or with one that is not 32 bytes', () => {
    expect(() => new InMemoryKeyStore({ masterKeys: undefined as never })).toThrow(MasterKeyMissingError);
    expect(() => new InMemoryKeyStore({ masterKeys: { current: { id: 'm1', key: key(1).slice(0, 20) } } })).toThrow(/32 random bytes/);
  });

  it('names a corrupted ciphertext, nonce or tag without the value in the message', async () => {
    const cipher = new PersonalDataCipher(new InMemoryKeyStore({ masterKeys: MASTER }), registry());
    const { event } = await cipher.sealEvent(newEvent({ personId: 'p1', name: NAME }));
    const sealed = (event.payload as { name: Record<string, string> }).name;
    for (const field of ['c', 'n', 't'] as const) {
      const bytes = Buffer.from(sealed[field]!, 'base64');
      bytes[0] = bytes[0]! ^ 0xff;
      const corrupted = { ...(event.payload as JsonObject), name: { ...sealed, [field]: bytes.toString('base64') } };
      const error = await cipher.openPayload('person.registered', corrupted, 'event "person.registered" of stream person-p1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PersonalDataDecryptionError);
      expect((error as Error).message).toContain('stream person-p1 field "name"');
      expectNoPlaintext(error);
    }
    expect((await cipher.openPayload('person.registered', event.payload, 'x')).payload).toEqual({ personId: 'p1', name: NAME });
  });

  it('names a wrong master key when a stream is read, without plaintext', async () => {
    const keys = new InMemoryKeyStore({ masterKeys: MASTER });
    const inner = createInMemoryStorage();
    const runtime = createChronicle({ storage: withPersonalData(inner, { keyStore: keys, events: registry() }), aggregates: [Person], logger: capture([]) });
    await runtime.execute(new Register('p1', NAME));
    await runtime.stop();
    const wrong = withPersonalData(inner, { keyStore: keys.withMasterKeys({ current: { id: 'm1', key: key(4) } }), events: registry() });
    const error = await wrong.journal.readStream('person-p1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasterKeyMismatchError);
    expectNoPlaintext(error);
  });

  it('never hands batched conditional units to the inner journal unsealed: the batcher falls back to the sealing append', async () => {
    const inner = createInMemoryStorage();
    let batched = 0;
    // A journal that batches conditional units (as the PostgreSQL one does).
    const batching = { ...inner, journal: Object.assign(Object.create(inner.journal) as typeof inner.journal, { appendConditionalBatch: async () => (batched++, undefined) }) };
    expect(batching.journal.appendConditionalBatch).toBeDefined();
    const storage = withPersonalData(batching, { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events: registry() });
    expect(storage.journal.appendConditionalBatch).toBeUndefined();
    expect(batched).toBe(0);
  });

  it('refuses an event whose subject is missing before anything is written', async () => {
    const storage = withPersonalData(createInMemoryStorage(), { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events: registry() });
    const error = await storage.journal
      .append({ writes: [{ streamId: 'person-x', aggregateType: 'person', expectedVersion: 0, events: [newEvent({ personId: '', name: NAME })] }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PersonalDataSubjectError);
    expectNoPlaintext(error);
    expect(await storage.journal.headPosition()).toBe(0);
  });

  it('refuses an event whose tags carry a personal value, naming the field and not the value', async () => {
    const cipher = new PersonalDataCipher(new InMemoryKeyStore({ masterKeys: MASTER }), registry());
    const error = await cipher.sealEvent({ ...newEvent({ personId: 'p1', name: NAME }), tags: [`owner:${NAME}`] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PersonalDataLeakError);
    expect((error as Error).message).toContain('"name"');
    expectNoPlaintext(error);
  });

  it('reads a subject forgotten during a projection rebuild as the replacement, and the rebuild completes', async () => {
    @Projection({ name: 'names', delivery: 'at-least-once', batchSize: 1 })
    class Names {
      readonly names = new Map<string, string | null>();
      forgetDuringRebuild: (() => Promise<unknown>) | undefined;
      @On(Registered) async registered(event: Registered): Promise<void> {
        this.names.set(event.personId, event.name);
        const forget = this.forgetDuringRebuild;
        this.forgetDuringRebuild = undefined;
        await forget?.();
      }
    }
    const lines: string[] = [];
    const storage = withPersonalData(createInMemoryStorage(), { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events: registry() });
    const names = new Names();
    const runtime = createChronicle({ storage, aggregates: [Person], projections: [names], logger: capture(lines), options: { subscriptions: { run: false } } });
    await runtime.start();
    await runtime.execute(new Register('p1', 'First Person'));
    await runtime.execute(new Register('p2', NAME));
    names.forgetDuringRebuild = () => storage.forget('p2');
    const progress = await runtime.subscriptions.get(projectionSubscriptionName('names'))!.rebuild(async () => names.names.clear());
    expect(progress).toMatchObject({ handled: 2, parked: 0 });
    expect(names.names.get('p1')).toBe('First Person');
    expect(names.names.get('p2')).toBeNull();
    const replayed = await runtime.execute<Registered, Person>(new Register('p3', 'Third'));
    expect(replayed.state?.name).toBe('Third');
    await runtime.stop();
    expect(lines.filter((line) => line.includes(NAME))).toEqual([]);
  });

  it('lets another instance see a forget within its key cache TTL, and this instance at once', async () => {
    const keys = new InMemoryKeyStore({ masterKeys: MASTER });
    let now = 0;
    const other = new PersonalDataCipher(keys, registry(), { keyCacheTtlMs: 1000, monotonicNow: () => now });
    const here = new PersonalDataCipher(keys, registry(), { keyCacheTtlMs: 1000, monotonicNow: () => now });
    const { event } = await here.sealEvent(newEvent({ personId: 'p1', name: NAME }));
    expect((await other.openPayload('person.registered', event.payload, 'x')).payload).toMatchObject({ name: NAME });
    await here.forget('p1');
    expect((await here.openPayload('person.registered', event.payload, 'x')).payload).toMatchObject({ name: null });
    now = 999; // within the TTL the other instance may still use its cached key...
    expect((await other.openPayload('person.registered', event.payload, 'x')).payload).toMatchObject({ name: NAME });
    now = 1001; // ...and not after it.
    expect((await other.openPayload('person.registered', event.payload, 'x')).payload).toMatchObject({ name: null });
    const sealedAfter = await other.sealEvent(newEvent({ personId: 'p1', name: NAME }));
    expect(sealedAfter.event.payload).toEqual({ personId: 'p1', name: null });
  });

  it('re-checks every cached key with one forgottenAmong query per TTL instead of a fetch per key, and still sees a forget made elsewhere', async () => {
    const keys = new InMemoryKeyStore({ masterKeys: MASTER });
    const calls = { keyFor: 0, keyById: 0, forgottenAmong: 0, ids: 0 };
    const counted = {
      keyFor: (subject: string) => (calls.keyFor++, keys.keyFor(subject)),
      keyById: (keyId: string) => (calls.keyById++, keys.keyById(keyId)),
      forget: (subject: string) => keys.forget(subject),
      rotateMasterKey: () => keys.rotateMasterKey(),
      forgottenAmong: (ids: readonly string[]) => ((calls.forgottenAmong++, (calls.ids += ids.length)), keys.forgottenAmong(ids)),
    };
    let now = 0;
    const cipher = new PersonalDataCipher(counted, registry(), { keyCacheTtlMs: 1000, monotonicNow: () => now });
    const seal = (id: string) => cipher.sealEvent({ ...newEvent({ personId: id, name: NAME }), eventId: `e-${id}` });
    const ids = Array.from({ length: 50 }, (_, i) => `p${i}`);
    // Sealed all at once (a group commit): one fetch per subject, even for a subject twice in the batch.
    await Promise.all([...ids, 'p0'].map(seal));
    expect(calls).toEqual({ keyFor: 50, keyById: 0, forgottenAmong: 0, ids: 0 });
    now = 1500;
    await keys.forget('p7'); // by another instance: this cipher's cache still holds the key
    const sealed = await Promise.all(ids.map(seal));
    // One query for the whole cache; only the forgotten subject is fetched again (its tombstone).
    expect(calls).toEqual({ keyFor: 51, keyById: 0, forgottenAmong: 1, ids: 50 });
    expect(sealed[7]!.event.payload).toEqual({ personId: 'p7', name: null });
    expect((sealed[8]!.event.payload as Record<string, { $pd?: number }>).name!.$pd).toBe(1);
    now = 1900; // re-checked at 1500: within half the TTL, nothing is asked
    await Promise.all(ids.map(seal));
    expect(calls.forgottenAmong).toBe(1);
    now = 2100; // past half the TTL: one re-check starts in the background, no fetch
    await Promise.all(ids.map(seal));
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toMatchObject({ keyFor: 51, forgottenAmong: 2 });
    // Without forgottenAmong, each key is fetched again once its TTL is over.
    const { forgottenAmong: _unused, ...plainStore } = counted;
    const fallback = new PersonalDataCipher(plainStore, registry(), { keyCacheTtlMs: 1000, monotonicNow: () => now });
    await fallback.sealEvent(newEvent({ personId: 'p1', name: NAME }));
    now = 3500;
    await fallback.sealEvent(newEvent({ personId: 'p1', name: NAME }));
    expect(calls.keyFor).toBe(53);
  });

  it('seals without waiting only with a key cached and checked within the TTL, the same way sealEvent does', async () => {
    let now = 0;
    const cipher = new PersonalDataCipher(new InMemoryKeyStore({ masterKeys: MASTER }), registry(), { keyCacheTtlMs: 1000, monotonicNow: () => now });
    const event = newEvent({ personId: 'p1', name: NAME });
    expect(cipher.sealEventCached(event)).toBeUndefined(); // never fetched: sealEvent must fetch it
    const fetched = await cipher.sealEvent(event);
    const cached = cipher.sealEventCached(event)!;
    expect(cached.keyId).toBe(fetched.keyId);
    expect(JSON.stringify(cached.event)).not.toContain(NAME);
    // A fresh nonce per value: the same value sealed twice never gives the same ciphertext.
    const [a, b] = [fetched, cached].map((s) => (s.event.payload as Record<string, Record<string, string>>).name!);
    expect(a!.n).not.toBe(b!.n);
    expect(a!.c).not.toBe(b!.c);
    expect((await cipher.openPayload('person.registered', cached.event.payload, 'x')).payload).toEqual({ personId: 'p1', name: NAME });
    // Past the TTL the cached key is not used without a re-check.
    now = 1001;
    expect(cipher.sealEventCached(event)).toBeUndefined();
    // No personal data: the event as it is, no key needed.
    const plainType = { ...event, type: 'unregistered.type' };
    expect(cipher.sealEventCached(plainType)).toEqual({ event: plainType });
    // Refusals are the same as sealEvent's, thrown at once.
    expect(() => cipher.sealEventCached(newEvent({ personId: '', name: NAME }))).toThrow(PersonalDataSubjectError);
    expect(() => cipher.sealEventCached({ ...event, tags: [`owner:${NAME}`] })).toThrow(PersonalDataLeakError);
  });

  it('seals every event of a group commit, keys cached or fetched, and hands the caller back what it wrote', async () => {
    const inner = createInMemoryStorage();
    const storage = withPersonalData(inner, { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events: registry() });
    const write = (id: string, expectedVersion: number) => ({
      streamId: `person-${id}`,
      aggregateType: 'person',
      expectedVersion,
      events: [{ ...newEvent({ personId: id, name: `${NAME} ${id}` }), eventId: `e-${id}-${expectedVersion}` }],
    });
    await storage.journal.append({ writes: [write('p1', 0)] }); // p1's key is cached from here on
    await storage.forget('p3');
    // p1 cached, p2 fetched (new subject), p3 forgotten: one append, as a batch leader makes it.
    const result = await storage.journal.append({ writes: [write('p1', 1), write('p2', 0), write('p3', 0)] });
    const stored = [...(await inner.journal.readStream('person-p1')), ...(await inner.journal.readStream('person-p2')), ...(await inner.journal.readStream('person-p3'))];
    expect(stored).toHaveLength(4);
    expect(JSON.stringify(stored)).not.toContain(NAME);
    expect(result.streams.map((s) => (s.events[0]!.payload as { name: string | null }).name)).toEqual([`${NAME} p1`, `${NAME} p2`, null]);
    expect((await storage.journal.readStream('person-p2'))[0]!.payload).toEqual({ personId: 'p2', name: `${NAME} p2` });
  });

  it('opens a personal value with non-ASCII text exactly as it was written (sealed from its UTF-8 bytes)', async () => {
    const cipher = new PersonalDataCipher(new InMemoryKeyStore({ masterKeys: MASTER }), registry());
    const name = 'Zoë Ødegård-Łukasiewicz 李小龍 🦉';
    const sealed = await cipher.sealEvent(newEvent({ personId: 'p1', name }));
    expect(JSON.stringify(sealed.event.payload)).not.toContain('Zoë');
    expect((await cipher.openPayload('person.registered', sealed.event.payload, 'x')).payload).toEqual({ personId: 'p1', name });
    // Objects and arrays as personal values go through the same JSON text.
    const nested = { first: 'Zoë', aliases: ['Łukasz', '🦉'] } as unknown as string;
    const sealedNested = cipher.sealEventCached(newEvent({ personId: 'p1', name: nested }))!;
    expect((await cipher.openPayload('person.registered', sealedNested.event.payload, 'x')).payload).toEqual({ personId: 'p1', name: nested });
  });

  it('reads the clock once per event sealed from the cache, and starts no second re-check while one runs', async () => {
    const keys = new InMemoryKeyStore({ masterKeys: MASTER });
    let now = 0;
    let reads = 0;
    let checks = 0;
    let release: () => void = () => undefined;
    const store = {
      keyFor: (subject: string) => keys.keyFor(subject),
      keyById: (keyId: string) => keys.keyById(keyId),
      forget: (subject: string) => keys.forget(subject),
      rotateMasterKey: () => keys.rotateMasterKey(),
      // Held open until released: a re-check in flight while many events are sealed.
      forgottenAmong: async (ids: readonly string[]) => {
        checks++;
        await new Promise<void>((resolve) => (release = resolve));
        return keys.forgottenAmong(ids);
      },
    };
    const cipher = new PersonalDataCipher(store, registry(), { keyCacheTtlMs: 1000, monotonicNow: () => (reads++, now) });
    await cipher.sealEvent(newEvent({ personId: 'p1', name: NAME }));
    reads = 0;
    for (let i = 0; i < 100; i++) expect(cipher.sealEventCached({ ...newEvent({ personId: 'p1', name: NAME }), eventId: `e${i}` })?.keyId).toBeDefined();
    expect(reads).toBe(100);
    expect(checks).toBe(0);
    now = 600; // past half the TTL: the first seal starts the re-check, the others keep using the key meanwhile
    for (let i = 0; i < 100; i++) expect(cipher.sealEventCached({ ...newEvent({ personId: 'p1', name: NAME }), eventId: `f${i}` })?.keyId).toBeDefined();
    expect(checks).toBe(1);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    now = 1000; // re-checked at 600: not yet half a TTL ago, nothing more to ask
    expect(cipher.sealEventCached(newEvent({ personId: 'p1', name: NAME }))?.keyId).toBeDefined();
    expect(checks).toBe(1);
  });

  it('seals the snapshot of a stream with the key its events used, without fetching that key by id', async () => {
    const keys = new InMemoryKeyStore({ masterKeys: MASTER });
    const calls = { keyFor: 0, keyById: 0 };
    const store = {
      keyFor: (subject: string) => (calls.keyFor++, keys.keyFor(subject)),
      keyById: (keyId: string) => (calls.keyById++, keys.keyById(keyId)),
      forget: (subject: string) => keys.forget(subject),
      rotateMasterKey: () => keys.rotateMasterKey(),
    };
    const cipher = new PersonalDataCipher(store, registry());
    const { keyId } = await cipher.sealEvent(newEvent({ personId: 'p1', name: NAME }));
    cipher.sealEventCached(newEvent({ personId: 'p1', name: NAME }));
    const state = await cipher.sealState({ name: NAME }, [keyId!], 'snapshot of stream person-p1 at version 2');
    expect(calls).toEqual({ keyFor: 1, keyById: 0 });
    expect(JSON.stringify(state)).not.toContain(NAME);
    expect((await cipher.openState(state, 'snapshot of stream person-p1 at version 2'))?.state).toEqual({ name: NAME });
    // Forgotten through this instance: neither entry is used again, and no snapshot is sealed with it.
    await cipher.forget('p1');
    expect(await cipher.sealState({ name: NAME }, [keyId!], 'snapshot of stream person-p1 at version 3')).toBeUndefined();
  });

  it('hands out one bound function per method of a wrapped store, not a new one per read', async () => {
    const inner = createInMemoryStorage();
    const storage = withPersonalData(inner, { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events: registry() });
    expect(storage.journal.streamVersion).toBe(storage.journal.streamVersion);
    expect(typeof storage.outbox.markPublished).toBe('function');
    expect(storage.outbox.markPublished).toBe(storage.outbox.markPublished);
    // Bound to the inner store: it works detached from the wrapper.
    const { headPosition } = storage.journal;
    expect(await headPosition()).toBe(0);
    // The overrides stay the wrapper's own (they seal and open).
    expect(storage.journal.append).not.toBe(inner.journal.append);
    await storage.journal.append({ writes: [{ streamId: 'person-p1', aggregateType: 'person', expectedVersion: 0, events: [newEvent({ personId: 'p1', name: NAME })] }] });
    expect(JSON.stringify(await inner.journal.readStream('person-p1'))).not.toContain(NAME);
    expect(await headPosition()).toBe(1);
  });

  it('refuses a group commit holding an event without a subject, with no stray rejection from the keys it was fetching', async () => {
    const strays: unknown[] = [];
    const onStray = (reason: unknown) => void strays.push(reason);
    process.on('unhandledRejection', onStray);
    try {
      const inner = createInMemoryStorage();
      const failing = new InMemoryKeyStore({ masterKeys: MASTER });
      const keyStore = Object.assign(Object.create(failing) as InMemoryKeyStore, { keyFor: async () => Promise.reject(new Error('key store down')) });
      const storage = withPersonalData(inner, { keyStore, events: registry() });
      const error = await storage.journal
        .append({
          writes: [
            { streamId: 'person-p1', aggregateType: 'person', expectedVersion: 0, events: [newEvent({ personId: 'p1', name: NAME })] },
            { streamId: 'person-x', aggregateType: 'person', expectedVersion: 0, events: [{ ...newEvent({ personId: '', name: NAME }), eventId: 'e2' }] },
          ],
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PersonalDataSubjectError);
      await new Promise((resolve) => setImmediate(resolve));
      expect(strays).toEqual([]);
      expect(await inner.journal.headPosition()).toBe(0);
    } finally {
      process.off('unhandledRejection', onStray);
    }
  });

  it('is wired by createChronicle({ personalData }): forget destroys the key, evicts the aggregate, and the next command replays the replacement', async () => {
    const inner = createInMemoryStorage();
    const runtime = createChronicle({
      storage: inner,
      aggregates: [Person],
      personalData: { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }) },
      logger: capture([]),
    });
    await runtime.execute(new Register('p1', NAME));
    const stored = await inner.journal.readStream('person-p1');
    expect(JSON.stringify(stored)).not.toContain(NAME);
    expect((await runtime.read(Person, 'p1'))?.state.name).toBe(NAME);
    const result = await runtime.forget('p1', { evict: [{ aggregate: Person, id: 'p1' }] });
    expect(result).toMatchObject({ subject: 'p1', destroyedNow: true });
    expect((await runtime.read(Person, 'p1'))?.state.name).toBeNull();
    await runtime.stop();

    const plain = createChronicle({ storage: createInMemoryStorage(), aggregates: [], logger: capture([]) });
    await expect(plain.forget('p1')).rejects.toThrow(ConfigurationError);
    await plain.stop();
  });

  it('refuses, by name and before anything is written, a runtime whose events declare @PersonalData but that has no key store', () => {
    const build = () => createChronicle({ storage: createInMemoryStorage(), aggregates: [Person], logger: capture([]) });
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(/"person\.registered" declare @PersonalData fields.*plain text/);
    // A storage already wrapped by withPersonalData seals them itself.
    const wrapped = withPersonalData(createInMemoryStorage(), { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events: registry() });
    expect(() => createChronicle({ storage: wrapped, aggregates: [Person], logger: capture([]) })).not.toThrow();
  });
});
