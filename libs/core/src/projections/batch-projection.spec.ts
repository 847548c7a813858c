import { randomUUID } from 'node:crypto';
import { InMemoryCheckpointStore } from '../adapters/in-memory-checkpoint-store.js';
import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import type { InMemoryTransaction } from '../adapters/in-memory-transaction.js';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { EventSerializer } from '../events/event-serializer.js';
import { Wallet, WalletCredited, WalletOpened } from '../gateway/fixtures/wallet.fixture.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { Clock } from '../ports/clock.port.js';
import { SubscriptionRunner } from '../subscriptions/subscription-runner.js';
import { On } from './on.decorator.js';
import { OnBatch } from './on-batch.decorator.js';
import type { ProjectionBatchContext, ProjectionBatchEvent } from './projection-context.js';
import { Projection } from './projection.decorator.js';
import { ProjectionHandler, projectionSubscriptionName } from './projection-handler.js';

const quiet: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * A read model kept a batch at a time: per batch, one "statement" (an onCommit of the
 * transaction) applies every event; `applied` lists each event id applied, so a duplicate shows.
 */
@Projection({ name: 'batch-balances' })
class BatchBalances {
  readonly balances = new Map<string, number>();
  readonly applied: string[] = [];
  readonly batchSizes: number[] = [];
  /** Streams whose events make a call fail (a poison event). */
  readonly failing = new Set<string>();

  @OnBatch(WalletOpened, WalletCredited)
  async project(events: ProjectionBatchEvent[], { tx }: ProjectionBatchContext<InMemoryTransaction>): Promise<void> {
    this.batchSizes.push(events.length);
    const bad = events.find(({ envelope }) => this.failing.has(envelope.streamId));
    if (bad) throw new Error(`cannot project ${bad.envelope.streamId}@${bad.envelope.version}`);
    const changes = events.map(({ event, envelope }) => ({
      wallet: (event as WalletOpened | WalletCredited).walletId,
      amount: event instanceof WalletCredited ? event.amount : 0,
      eventId: envelope.eventId,
    }));
    tx.onCommit(() => {
      for (const change of changes) {
        this.applied.push(change.eventId);
        this.balances.set(change.wallet, (this.balances.get(change.wallet) ?? 0) + change.amount);
      }
    });
  }

  async clear(tx: InMemoryTransaction): Promise<void> {
    tx.onCommit(() => {
      this.balances.clear();
      this.applied.length = 0;
    });
  }
}

function clock(): Clock & { advance(ms: number): void } {
  let now = Date.UTC(2025, 0, 1);
  return { now: () => new Date(now), advance: (ms) => void (now += ms) };
}

async function setup() {
  const time = clock();
  const journal = new InMemoryJournal();
  const serializer = new EventSerializer(new AggregateCatalog([Wallet]).events);
  const store = new InMemoryCheckpointStore(time);
  const expected = new Map<string, number>();
  let events = 0;
  const append = async (wallet: string, ...amounts: number[]) => {
    const streamId = `wallet-${wallet}`;
    const version = await journal.streamVersion(streamId);
    const payloads: Array<[string, unknown]> =
      version === 0 ? [['wallet.opened', { walletId: wallet, owner: 'x' }]] : [];
    for (const amount of amounts) payloads.push(['wallet.credited', { walletId: wallet, amount }]);
    expected.set(wallet, (expected.get(wallet) ?? 0) + amounts.reduce((sum, amount) => sum + amount, 0));
    events += payloads.length;
    await journal.append({
      writes: [
        {
          streamId,
          aggregateType: 'wallet',
          expectedVersion: version,
          events: payloads.map(([type, payload]) => ({ eventId: randomUUID(), type, schemaVersion: 1, payload, metadata: {}, tags: [], occurredAt: new Date() })),
        },
      ],
    });
  };
  const runner = (projection: BatchBalances, owner: string, deps: { store?: InMemoryCheckpointStore } = {}) =>
    new SubscriptionRunner<InMemoryTransaction>(
      { journal, store: deps.store ?? store, serializer, clock: time, logger: quiet },
      new ProjectionHandler<InMemoryTransaction>(projection),
      { name: projectionSubscriptionName('batch-balances'), owner, batchSize: 10, commitEvery: 5, leaseMs: 1_000, backoffInitialMs: 1, backoffMaxMs: 2, maxAttempts: 3 },
    );
  return { journal, store, time, append, runner, expected, count: () => events };
}

describe('Batch projections (@OnBatch)', () => {
  it('get each checkpoint transaction’s events in one call, in feed order, applied once with the checkpoint', async () => {
    const { append, runner, expected, count, journal } = await setup();
    for (let round = 0; round < 4; round++) for (const wallet of ['a', 'b', 'c']) await append(wallet, round + 1, 10 * (round + 1));
    const projection = new BatchBalances();
    await runner(projection, 'one').drain();
    expect(projection.applied).toHaveLength(count());
    expect(new Set(projection.applied).size).toBe(count());
    expect(Object.fromEntries(projection.balances)).toEqual(Object.fromEntries(expected));
    expect(projection.applied).toEqual((await journal.readAll(null, 100)).events.map((event) => event.eventId));
    // 27 events, 10 a page, 5 a transaction: a call per transaction.
    expect(projection.batchSizes).toEqual([5, 5, 5, 5, 5, 2]);
  });

  it('stay exactly once when a page’s commit fails and another runner takes the page over', async () => {
    const { append, runner, store, time, expected, count } = await setup();
    for (let round = 0; round < 3; round++) for (const wallet of ['a', 'b', 'c']) await append(wallet, round + 1);
    const projection = new BatchBalances();
    // The first runner's second checkpoint transaction dies after the batch's work ran (the
    // connection lost at COMMIT): nothing of it may stay.
    let advances = 0;
    const crashing = Object.create(store) as InMemoryCheckpointStore;
    crashing.advance = async (step, work) => {
      advances += 1;
      if (advances !== 2 || !work) return store.advance(step, work);
      return store.advance(step, async (tx) => {
        await work(tx);
        throw new Error('connection lost at COMMIT');
      });
    };
    const first = runner(projection, 'first', { store: crashing });
    await first.wake();
    expect(advances).toBe(2);
    expect(projection.applied).toHaveLength(5);
    expect((await store.load(projectionSubscriptionName('batch-balances')))?.position).toBe('5');

    // The first runner is gone (no stop, no release): the second takes over once the lease expired.
    time.advance(1_001);
    await runner(projection, 'second').drain();
    expect(projection.applied).toHaveLength(count());
    expect(new Set(projection.applied).size).toBe(count());
    expect(Object.fromEntries(projection.balances)).toEqual(Object.fromEntries(expected));
    // 12 events: the failed transaction's five came again, in one batch, then the last two.
    expect(projection.batchSizes.slice(2)).toEqual([5, 2]);
  });

  it('find a poison event inside a batch by redoing it one event at a time: it is parked alone, its stream held, the rest applied once', async () => {
    const { append, runner, store, expected } = await setup();
    await append('good', 1);
    await append('bad', 2);
    await append('other', 3);
    await append('bad', 4);
    const projection = new BatchBalances();
    projection.failing.add('wallet-bad');
    await runner(projection, 'one').drain();

    const parked = await store.parked(projectionSubscriptionName('batch-balances'));
    expect(parked.map((event) => [event.streamId, event.version, event.reason, event.attempts])).toEqual([
      ['wallet-bad', 1, 'failed', 3],
      ['wallet-bad', 2, 'held', 0],
      ['wallet-bad', 3, 'held', 0],
    ]);
    expect(parked[0]?.error).toContain('cannot project wallet-bad@1');
    const good = new Map([...expected].filter(([wallet]) => wallet !== 'bad'));
    expect(Object.fromEntries(projection.balances)).toEqual(Object.fromEntries(good));
    expect(new Set(projection.applied).size).toBe(projection.applied.length);
    // One failed batch of the whole chunk, then batches of one.
    expect(projection.batchSizes[0]).toBe(5);
    expect(projection.batchSizes.slice(1).every((size) => size === 1)).toBe(true);

    projection.failing.clear();
    const subscription = runner(projection, 'one');
    expect(await subscription.redrive('wallet-bad')).toBe(3);
    await subscription.wake();
    expect(Object.fromEntries(projection.balances)).toEqual(Object.fromEntries(expected));
    expect(await store.parked(projectionSubscriptionName('batch-balances'))).toEqual([]);
  });

  it('rebuild into a cleared model equal to the incremental one, a page per call', async () => {
    const { append, runner, expected, count } = await setup();
    for (let round = 0; round < 3; round++) for (const wallet of ['a', 'b', 'c', 'd']) await append(wallet, round + 2);
    const projection = new BatchBalances();
    const live = runner(projection, 'one');
    await live.drain();
    const incremental = new Map(projection.balances);
    projection.balances.set('a', 999);
    projection.batchSizes.length = 0;
    const handler = new ProjectionHandler<InMemoryTransaction>(projection);
    const result = await live.rebuild((tx) => handler.clear(tx));
    expect(result).toMatchObject({ read: count(), handled: count(), parked: 0 });
    expect(projection.balances).toEqual(incremental);
    expect(Object.fromEntries(projection.balances)).toEqual(Object.fromEntries(expected));
    expect(projection.applied).toHaveLength(count());
    expect(projection.batchSizes).toEqual([10, 6]);
  });

  it('are declared with one @OnBatch and no @On, naming what is wrong otherwise', () => {
    expect(() => OnBatch()).toThrow(ConfigurationError);
    expect(() => OnBatch(WalletOpened, WalletOpened)).toThrow(/twice/);
    expect(() => OnBatch(class NotAnEvent {})).toThrow(/@Event classes, got NotAnEvent/);

    @Projection({ name: 'mixed' })
    class Mixed {
      @OnBatch(WalletCredited)
      async batch(): Promise<void> {}
      @On(WalletOpened)
      async one(): Promise<void> {}
    }
    expect(() => new ProjectionHandler(new Mixed())).toThrow(/both @OnBatch \(batch\(\)\) and @On \(one\(\)\)/);

    expect(() => {
      @Projection({ name: 'twice' })
      class Twice {
        @OnBatch(WalletCredited)
        async first(): Promise<void> {}
        @OnBatch(WalletOpened)
        async second(): Promise<void> {}
      }
      return Twice;
    }).toThrow(/two @OnBatch methods/);
  });
});
