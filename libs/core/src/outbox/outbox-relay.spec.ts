import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import { InMemoryOutboxStore } from '../adapters/in-memory-outbox-store.js';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import { EventSerializer } from '../events/event-serializer.js';
import { CommandGateway } from '../gateway/command-gateway.js';
import { Credit, OpenWallet, Wallet } from '../gateway/fixtures/wallet.fixture.js';
import { PublisherUnavailableError } from '../errors/publisher-unavailable.error.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { Clock } from '../ports/clock.port.js';
import type { OutboxMessage } from './outbox-message.js';
import type { OutboxPublisher, PublishReport } from './outbox-publisher.js';
import { OutboxRelay } from './outbox-relay.js';

const silent: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

class ManualClock implements Clock {
  constructor(public time = Date.UTC(2026, 0, 1)) {}
  now(): Date {
    return new Date(this.time);
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Records what it publishes; `fail` decides per message whether it fails. */
class RecordingPublisher implements OutboxPublisher {
  published: string[] = [];
  attempts: string[] = [];
  fail: (message: OutboxMessage) => boolean = () => false;
  delayMs = 0;

  async publish(batch: readonly OutboxMessage[]): Promise<PublishReport> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const failed: PublishReport['failed'] = [];
    const stopped = new Set<string>();
    for (const message of batch) {
      if (stopped.has(message.streamId)) continue;
      const label = `${message.streamId}@${message.version}`;
      this.attempts.push(label);
      if (this.fail(message)) {
        failed.push({ id: message.id, error: new Error(`refused ${label}`) });
        stopped.add(message.streamId);
      } else {
        this.published.push(label);
      }
    }
    return { failed };
  }
}

function setup(handlerSettings: { maxAttempts?: number; batchSize?: number; startFrom?: 'now' | 'beginning' } = {}, leaseMs = 30_000) {
  const clock = new ManualClock();
  const journal = new InMemoryJournal();
  const store = new InMemoryOutboxStore({ clock });
  journal.addParticipant(store);
  const catalog = new AggregateCatalog([Wallet]);
  const gateway = new CommandGateway({ catalog, journal, clock, logger: silent });
  const publisher = new RecordingPublisher();
  const relay = new OutboxRelay(
    { store, journal, serializer: new EventSerializer(catalog.events), clock, logger: silent },
    [{ settings: { name: 'bus', events: '*', backoff: { initialMs: 1_000, jitter: 0 }, ...handlerSettings }, publisher }],
    { owner: 'relay-1', leaseMs },
  );
  return { clock, journal, store, gateway, publisher, relay, catalog };
}

describe('OutboxRelay', () => {
  it('publishes committed events in version order per aggregate and marks them published', async () => {
    const { gateway, publisher, relay, store } = setup();
    await relay.subscribe();
    await relay.backfill();
    await gateway.execute(new OpenWallet('a', 'ann'));
    await gateway.execute(new OpenWallet('b', 'bob'));
    await gateway.execute(new Credit('a', 5));
    await gateway.execute(new Credit('b', 6));
    await gateway.execute(new Credit('a', 7));
    expect(await relay.drain('bus')).toBe(5);
    const perAggregate = (stream: string) => publisher.published.filter((p) => p.startsWith(stream));
    expect(perAggregate('wallet-a')).toEqual(['wallet-a@1', 'wallet-a@2', 'wallet-a@3']);
    expect(perAggregate('wallet-b')).toEqual(['wallet-b@1', 'wallet-b@2']);
    expect(await store.stats('bus')).toEqual([expect.objectContaining({ handler: 'bus', pending: 0, leased: 0, deadLettered: 0 })]);
    expect(await relay.drain('bus')).toBe(0);
  });

  it('retries a failed entry only after its backoff, and holds back its aggregate meanwhile', async () => {
    const { gateway, publisher, relay, clock } = setup();
    await relay.subscribe();
    await relay.backfill();
    await gateway.execute(new OpenWallet('a', 'ann'));
    await gateway.execute(new Credit('a', 5));
    await gateway.execute(new OpenWallet('b', 'bob'));
    let refuse = true;
    publisher.fail = (m) => refuse && m.streamId === 'wallet-a';
    const first = await relay.runOnce('bus');
    expect(first).toMatchObject({ claimed: 3, published: 1, failed: 1, released: 1 });
    expect(publisher.published).toEqual(['wallet-b@1']);
    // wallet-a@2 was behind the failure: not attempted.
    expect(publisher.attempts).toEqual(['wallet-a@1', 'wallet-b@1']);

    refuse = false;
    expect((await relay.runOnce('bus')).claimed).toBe(0);
    clock.advance(999);
    expect((await relay.runOnce('bus')).claimed).toBe(0);
    clock.advance(1);
    expect(await relay.runOnce('bus')).toMatchObject({ claimed: 2, published: 2 });
    expect(publisher.published).toEqual(['wallet-b@1', 'wallet-a@1', 'wallet-a@2']);
  });

  it('dead-letters after maxAttempts, holding back only that aggregate; a re-drive delivers it and the rest in order', async () => {
    const { gateway, publisher, relay, clock, store } = setup({ maxAttempts: 3 });
    await relay.subscribe();
    await relay.backfill();
    await gateway.execute(new OpenWallet('a', 'ann'));
    await gateway.execute(new Credit('a', 5));
    await gateway.execute(new OpenWallet('b', 'bob'));
    publisher.fail = (m) => m.streamId === 'wallet-a' && m.version === 1;
    for (let i = 0; i < 3; i++) {
      await relay.runOnce('bus');
      clock.advance(10_000);
    }
    const [dead] = await store.deadLetters('bus');
    expect(dead).toMatchObject({ streamId: 'wallet-a', version: 1, attempts: 3 });
    expect(dead?.lastError).toMatch(/refused wallet-a@1/);
    await gateway.execute(new Credit('b', 1));
    await gateway.execute(new Credit('a', 1));
    await relay.drain('bus');
    expect(publisher.published.filter((p) => p.startsWith('wallet-a'))).toEqual([]);
    expect(publisher.published).toEqual(['wallet-b@1', 'wallet-b@2']);

    publisher.fail = () => false;
    expect(await store.redrive('bus')).toBe(1);
    await relay.drain('bus');
    expect(publisher.published.filter((p) => p.startsWith('wallet-a'))).toEqual(['wallet-a@1', 'wallet-a@2', 'wallet-a@3']);
    expect(await store.deadLetters('bus')).toEqual([]);
  });

  it('never counts an unreachable destination as an attempt: it pauses, then delivers everything', async () => {
    const { gateway, clock, store, journal, catalog } = setup({ maxAttempts: 2 });
    const delivered: string[] = [];
    let brokerUp = false;
    const flaky: OutboxPublisher = {
      publish: async (batch) => {
        if (!brokerUp) throw new PublisherUnavailableError('connection refused');
        delivered.push(...batch.map((m) => `${m.streamId}@${m.version}`));
      },
    };
    const outage = new OutboxRelay(
      { store, journal, serializer: new EventSerializer(catalog.events), clock, logger: silent },
      [{ settings: { name: 'bus', events: '*', maxAttempts: 2, backoff: { initialMs: 1_000, jitter: 0 } }, publisher: flaky }],
      { owner: 'relay-outage' },
    );
    await outage.subscribe();
    await outage.backfill();
    await gateway.execute(new OpenWallet('a', 'ann'));
    await gateway.execute(new OpenWallet('b', 'bob'));
    for (let i = 0; i < 10; i++) {
      expect(await outage.runOnce('bus')).toMatchObject({ published: 0, failed: 0, deadLettered: 0 });
      // Paused: no claim at all until the backoff has passed.
      expect((await outage.runOnce('bus')).claimed).toBe(0);
      clock.advance(60_000);
    }
    expect(await store.deadLetters('bus')).toEqual([]);
    brokerUp = true;
    await outage.drain('bus');
    expect(delivered.sort()).toEqual(['wallet-a@1', 'wallet-b@1']);
    expect((await store.stats('bus'))[0]).toMatchObject({ pending: 0, deadLettered: 0 });
  });

  it('dead-letters an entry that cannot be decoded at once, and never skips it', async () => {
    const { journal, gateway, publisher, relay, store } = setup();
    await relay.subscribe();
    await relay.backfill();
    await gateway.execute(new OpenWallet('a', 'ann'));
    await journal.append({
      writes: [
        {
          streamId: 'wallet-a',
          aggregateType: 'wallet',
          expectedVersion: 1,
          events: [{ eventId: 'x', type: 'wallet.teleported', schemaVersion: 1, payload: {}, metadata: {}, tags: [], occurredAt: new Date() }],
        },
      ],
    });
    // A valid event behind the poison one: it must wait, not overtake it.
    await journal.append({
      writes: [
        {
          streamId: 'wallet-a',
          aggregateType: 'wallet',
          expectedVersion: 2,
          events: [{ eventId: 'y', type: 'wallet.credited', schemaVersion: 1, payload: { walletId: 'a', amount: 1 }, metadata: {}, tags: [], occurredAt: new Date() }],
        },
      ],
    });
    await gateway.execute(new OpenWallet('b', 'bob'));
    const result = await relay.runOnce('bus');
    expect(result).toMatchObject({ published: 2, deadLettered: 1, released: 1 });
    const [dead] = await store.deadLetters('bus');
    expect(dead).toMatchObject({ streamId: 'wallet-a', version: 2, attempts: 1 });
    expect(dead?.lastError).toMatch(/Cannot be decoded: Event type "wallet.teleported" in stream "wallet-a" at version 2 is not registered/);
    expect(publisher.published.sort()).toEqual(['wallet-a@1', 'wallet-b@1']);
  });

  it('extends the lease while a slow publish runs, so no other relay takes the batch', async () => {
    const { gateway, publisher, relay, store, journal, catalog, clock } = setup({}, 60);
    await relay.subscribe();
    await relay.backfill();
    await gateway.execute(new OpenWallet('a', 'ann'));
    const rivalPublisher = new RecordingPublisher();
    const rival = new OutboxRelay(
      { store, journal, serializer: new EventSerializer(catalog.events), clock, logger: silent },
      [{ settings: { name: 'bus', events: '*' }, publisher: rivalPublisher }],
      { owner: 'relay-2', leaseMs: 60 },
    );
    await rival.subscribe();
    await rival.backfill();
    publisher.delayMs = 300;
    const slow = relay.runOnce('bus');
    // The lease was 60 ms from claim time. Move the clock 100 ms on in two steps while the owner's
    // keep-alive (every 20 ms of real time) runs: without it the rival could claim at +100.
    await new Promise((resolve) => setTimeout(resolve, 60));
    clock.advance(50);
    await new Promise((resolve) => setTimeout(resolve, 60));
    clock.advance(50);
    expect((await rival.runOnce('bus')).claimed).toBe(0);
    await expect(slow).resolves.toMatchObject({ published: 1 });
    expect(rivalPublisher.attempts).toEqual([]);
  });

  it('lets another relay take over entries whose lease expired (a crashed relay)', async () => {
    const { gateway, store, journal, catalog, clock } = setup();
    await gateway.execute(new OpenWallet('a', 'ann'));
    const crashed = await store.claim('bus', 'crashed-relay', { limit: 10, leaseMs: 1_000 });
    expect(crashed).toHaveLength(0);
    const publisher = new RecordingPublisher();
    const survivor = new OutboxRelay(
      { store, journal, serializer: new EventSerializer(catalog.events), clock, logger: silent },
      [{ settings: { name: 'bus', events: '*' }, publisher }],
      { owner: 'survivor', leaseMs: 1_000 },
    );
    await survivor.subscribe();
    await survivor.backfill();
    await gateway.execute(new Credit('a', 5));
    const taken = await store.claim('bus', 'crashed-relay', { limit: 10, leaseMs: 1_000 });
    expect(taken).toHaveLength(1);
    expect((await survivor.runOnce('bus')).claimed).toBe(0);
    clock.advance(1_001);
    await survivor.drain('bus');
    expect(publisher.published).toEqual(['wallet-a@2']);
    // The crashed relay's lease is gone: its late acknowledgement changes nothing.
    expect(await store.markPublished('bus', 'crashed-relay', taken.map((e) => e.id))).toBe(0);
  });

  it('shares one batch between concurrent calls (single-flight)', async () => {
    const { gateway, relay } = setup();
    await relay.subscribe();
    await relay.backfill();
    await gateway.execute(new OpenWallet('a', 'ann'));
    const [one, two] = await Promise.all([relay.runOnce('bus'), relay.runOnce('bus')]);
    expect(one).toBe(two);
    expect(one.claimed).toBe(1);
  });

  it('on stop, finishes the batch in flight and leaves nothing leased', async () => {
    const { gateway, publisher, relay, store } = setup();
    await relay.subscribe();
    await relay.backfill();
    for (const id of ['a', 'b', 'c']) await gateway.execute(new OpenWallet(id, id));
    publisher.delayMs = 50;
    const inFlight = relay.runOnce('bus');
    await relay.stop();
    await expect(inFlight).resolves.toMatchObject({ published: 3 });
    expect((await store.stats('bus'))[0]).toMatchObject({ leased: 0, pending: 0 });
    expect((await relay.runOnce('bus')).claimed).toBe(0);
  });

  it('backfills a handler added later with startFrom beginning, in journal order, before relaying it', async () => {
    const { gateway, journal, store, catalog } = setup();
    await gateway.execute(new OpenWallet('a', 'ann'));
    await gateway.execute(new Credit('a', 1));
    await gateway.execute(new OpenWallet('b', 'bob'));
    const publisher = new RecordingPublisher();
    const late = new OutboxRelay(
      { store, journal, serializer: new EventSerializer(catalog.events), logger: silent },
      [{ settings: { name: 'late', events: ['wallet.opened', 'wallet.credited'], startFrom: 'beginning' }, publisher }],
      { owner: 'late-relay', backfillPageSize: 2 },
    );
    await late.subscribe();
    expect(late.isReady('late')).toBe(false);
    expect((await late.runOnce('late')).claimed).toBe(0);
    await late.backfill();
    expect(late.isReady('late')).toBe(true);
    await gateway.execute(new Credit('b', 2));
    await late.drain('late');
    expect(publisher.published.filter((p) => p.startsWith('wallet-a'))).toEqual(['wallet-a@1', 'wallet-a@2']);
    expect(publisher.published.filter((p) => p.startsWith('wallet-b'))).toEqual(['wallet-b@1', 'wallet-b@2']);
  });

  it('gives a handler with startFrom now only the events after it was registered', async () => {
    const { gateway, journal, store, catalog } = setup();
    await gateway.execute(new OpenWallet('a', 'ann'));
    const publisher = new RecordingPublisher();
    const late = new OutboxRelay(
      { store, journal, serializer: new EventSerializer(catalog.events), logger: silent },
      [{ settings: { name: 'fresh', events: '*' }, publisher }],
      { owner: 'r' },
    );
    await late.subscribe();
    await late.backfill();
    await gateway.execute(new Credit('a', 1));
    await late.drain('fresh');
    expect(publisher.published).toEqual(['wallet-a@2']);
  });
});
