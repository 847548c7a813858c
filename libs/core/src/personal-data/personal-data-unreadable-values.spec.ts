import { describe, expect, it } from '@jest/globals';
import { InMemoryKeyStore } from '../adapters/in-memory-key-store.js';
import { createInMemoryStorage } from '../adapters/in-memory-storage.js';
import { PersonalDataDecryptionError } from '../errors/personal-data-decryption.error.js';
import { EventRegistry } from '../events/event-registry.js';
import { Event } from '../events/event.decorator.js';
import type { JsonObject } from '../events/json.js';
import { PersonalData } from '../events/personal-data.decorator.js';
import type { NewEvent } from '../events/recorded-event.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { OutboxHandler } from '../outbox/outbox-handler.decorator.js';
import type { OutboxMessage } from '../outbox/outbox-message.js';
import type { OutboxPublisher } from '../outbox/outbox-publisher.js';
import type { DataKeyLookup, KeyStore } from '../ports/key-store.port.js';
import { createChronicle } from '../runtime/create-chronicle.js';
import { withPersonalData, type PersonalDataStorage } from './personal-data-storage.js';

/*
 * Values that cannot be opened, and the ways they must not spread: a plain field shaped like a
 * sealed value, a key fetch that crosses a forget, an outbox entry with a corrupt ciphertext.
 */

const key = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
const MASTER = { current: { id: 'm1', key: key(3) } };
const NAME = 'Hieronymus Bluebottle';
const quiet = (): ChronicleLogger => ({ log: () => undefined, warn: () => undefined, error: () => undefined });

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

/** No personal data: a free JSON field a client fills in. */
@Event('person.commented')
class Commented {
  constructor(
    readonly personId: string,
    readonly attributes: Record<string, unknown>,
  ) {}
}

let counter = 0;
function newEvent(type: string, payload: JsonObject): NewEvent {
  return { eventId: `e${++counter}`, type, schemaVersion: 1, payload, metadata: {}, tags: [], occurredAt: new Date(0) };
}

function write(streamId: string, ...events: NewEvent[]) {
  return { writes: [{ streamId, aggregateType: 'person', expectedVersion: 0, events }] };
}

@OutboxHandler({ name: 'recorder', events: [Registered] })
class Recorder implements OutboxPublisher {
  readonly messages: OutboxMessage[] = [];
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    this.messages.push(...batch);
  }
}

/** A started runtime over `storage` with the `recorder` handler, caught up with the (empty) feed: each append from now on writes its outbox rows; the relay runs only when asked. */
async function relaying(storage: PersonalDataStorage) {
  const recorder = new Recorder();
  const chronicle = createChronicle({
    storage,
    aggregates: [],
    events: [Registered],
    outboxHandlers: [recorder],
    logger: quiet,
    options: { outbox: { relay: false }, subscriptions: { run: false } },
  });
  await chronicle.start();
  await chronicle.relay!.backfill();
  return { chronicle, recorder };
}

describe('Personal data: values that cannot be opened', () => {
  it('reads a plain field whose value only looks sealed back as stored, and still refuses a corrupt declared field', async () => {
    const keyStore = new InMemoryKeyStore({ masterKeys: MASTER });
    const asked: string[] = [];
    const counting: KeyStore = {
      keyFor: (subject) => keyStore.keyFor(subject),
      keyById: (keyId) => (asked.push(keyId), keyStore.keyById(keyId)),
      forget: (subject) => keyStore.forget(subject),
      rotateMasterKey: () => keyStore.rotateMasterKey(),
      forgottenAmong: (ids) => keyStore.forgottenAmong(ids),
    };
    const inner = createInMemoryStorage();
    const storage = withPersonalData(inner, { keyStore: counting, events: new EventRegistry().register(Registered, Commented) });
    const injected = { $pd: 1, k: 'no-such-key', n: 'AAAAAAAAAAAAAAAA', t: 'AAAAAAAAAAAAAAAAAAAAAA==', c: '' };
    const overlong = { ...injected, k: 'k'.repeat(65) };
    await storage.journal.append(
      write('p-1', newEvent('person.commented', { personId: 'p1', attributes: injected }), newEvent('person.commented', { personId: 'p1', attributes: overlong })),
    );
    const events = await storage.journal.readStream('p-1');
    expect(events.map((event) => event.payload)).toEqual([
      { personId: 'p1', attributes: injected },
      { personId: 'p1', attributes: overlong },
    ]);
    expect((await storage.journal.readAll(null, 10)).events).toHaveLength(2);
    // A made-up key id costs one key-store read per TTL, not one per read of the event.
    await storage.journal.readStream('p-1');
    expect(asked.filter((id) => id === 'no-such-key')).toEqual(['no-such-key']);

    // The same shape in a field declared personal was written by the sealer: it must open or fail by name.
    const { keyId } = await keyStore.keyFor('p2');
    await inner.journal.append(write('p-2', newEvent('person.registered', { personId: 'p2', name: { ...injected, k: keyId! } })));
    await expect(storage.journal.readStream('p-2')).rejects.toThrow(PersonalDataDecryptionError);
  });

  it('does not cache a key whose fetch crossed a forget made through this instance: the next read sees the replacement', async () => {
    const shared = new InMemoryKeyStore({ masterKeys: MASTER });
    const events = new EventRegistry().register(Registered);
    const inner = createInMemoryStorage();
    await withPersonalData(inner, { keyStore: shared, events }).journal.append(write('p-1', newEvent('person.registered', { personId: 'p1', name: NAME })));
    // This instance's key store answers after a round trip: the row is read, then the answer arrives.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let fetched!: () => void;
    const inFlight = new Promise<void>((resolve) => (fetched = resolve));
    let first = true;
    const slow: KeyStore = {
      keyFor: (subject) => shared.keyFor(subject),
      async keyById(keyId): Promise<DataKeyLookup | undefined> {
        const row = await shared.keyById(keyId);
        if (first) {
          first = false;
          fetched();
          await gate;
        }
        return row;
      },
      forget: (subject) => shared.forget(subject),
      rotateMasterKey: () => shared.rotateMasterKey(),
      forgottenAmong: (ids) => shared.forgottenAmong(ids),
    };
    const instance = withPersonalData(inner, { keyStore: slow, events });
    const concurrentRead = instance.journal.readStream('p-1'); // a read in flight during the forget
    await inFlight;
    expect((await instance.forget('p1')).destroyedNow).toBe(true);
    release();
    await concurrentRead; // concurrent with the forget: either answer is allowed for it
    expect((await instance.journal.readStream('p-1'))[0]!.payload).toEqual({ personId: 'p1', name: null });
  });

  it('dead-letters an outbox entry whose personal value does not authenticate, and keeps relaying the handler', async () => {
    const keyStore = new InMemoryKeyStore({ masterKeys: MASTER });
    const inner = createInMemoryStorage();
    const warnings: string[] = [];
    const logger: ChronicleLogger = { log: () => undefined, warn: (message) => void warnings.push(message), error: () => undefined };
    const storage = withPersonalData(inner, { keyStore, events: new EventRegistry().register(Registered), logger });
    const { chronicle, recorder } = await relaying(storage);
    try {
      // p-1's value was damaged at rest (its ciphertext does not authenticate); p-2 is sound.
      const { keyId } = await keyStore.keyFor('p1');
      const corrupt = { $pd: 1, k: keyId!, n: 'AAAAAAAAAAAAAAAA', t: 'AAAAAAAAAAAAAAAAAAAAAA==', c: 'AAAA' };
      await inner.journal.append(write('p-1', newEvent('person.registered', { personId: 'p1', name: corrupt }), newEvent('person.registered', { personId: 'p1', name: corrupt })));
      await storage.journal.append(write('p-2', newEvent('person.registered', { personId: 'p2', name: 'two' })));
      for (let run = 0; run < 3; run++) await chronicle.relay!.runOnce('recorder');
      expect(recorder.messages.map((message) => [message.streamId, (message.payload as JsonObject).name])).toEqual([['p-2', 'two']]);
      const dead = await inner.outbox.deadLetters('recorder');
      // p-1's first entry, with a reason naming the row and not the value; its second waits behind
      // that dead letter, as behind any other (re-driving the first releases it, in order).
      expect(dead.map((entry) => [entry.streamId, entry.version])).toEqual([['p-1', 1]]);
      expect(warnings).toEqual([expect.stringMatching(/^Outbox entry .* of "recorder" \(p-1@1\) dead-lettered: Cannot be opened/)]);
      expect(dead[0]!.lastError).toMatch(/Cannot be opened: .*outbox entry .* field "name".*does not authenticate/);
      // The console's listing shows them as stored rather than failing.
      expect(await storage.outbox.deadLetters('recorder')).toHaveLength(1);
      expect((await storage.outbox.stats('recorder'))[0]).toMatchObject({ pending: 1, deadLettered: 1 });
    } finally {
      await chronicle.stop();
    }
  });

  it('fails the claim, dead-letters nothing and loses nothing when the master key a data key needs is missing (configuration, not the row)', async () => {
    const shared = new InMemoryKeyStore({ masterKeys: MASTER });
    const events = new EventRegistry().register(Registered);
    const inner = createInMemoryStorage();
    const storage = withPersonalData(inner, { keyStore: shared, events });
    const { chronicle, recorder } = await relaying(storage);
    try {
      // Written by an instance whose master key this one does not have.
      const other = withPersonalData(inner, { keyStore: shared.withMasterKeys({ current: { id: 'm0', key: key(9) } }), events });
      await other.journal.append(write('p-1', newEvent('person.registered', { personId: 'p1', name: 'one' })));
      await expect(chronicle.relay!.runOnce('recorder')).rejects.toThrow(/master key/i);
      expect(await inner.outbox.deadLetters('recorder')).toHaveLength(0);
      expect(recorder.messages).toHaveLength(0);
      // Released at once, not left leased until the lease runs out.
      expect((await inner.outbox.stats('recorder'))[0]).toMatchObject({ pending: 1, leased: 0, deadLettered: 0 });
    } finally {
      await chronicle.stop();
    }
  });
});
