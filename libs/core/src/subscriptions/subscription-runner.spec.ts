import { randomUUID } from 'node:crypto';
import { afterEach, jest } from '@jest/globals';
import { InMemoryCheckpointStore } from '../adapters/in-memory-checkpoint-store.js';
import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import type { InMemoryTransaction } from '../adapters/in-memory-transaction.js';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import { CheckpointLeaseLostError } from '../errors/checkpoint-lease-lost.error.js';
import { ProjectionWaitTimeoutError } from '../errors/projection-wait-timeout.error.js';
import { EventSerializer } from '../events/event-serializer.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { Clock } from '../ports/clock.port.js';
import { Wallet } from '../gateway/fixtures/wallet.fixture.js';
import type { SubscriptionDelivery, SubscriptionHandler, TransactionalWork } from './subscription-handler.js';
import { SubscriptionRunner } from './subscription-runner.js';

const quiet: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

function clock(): Clock & { advance(ms: number): void } {
  let now = Date.UTC(2025, 0, 1);
  return { now: () => new Date(now), advance: (ms) => void (now += ms) };
}

/** A read model in memory: balances per wallet, changed only when the checkpoint's step commits. */
class BalancesHandler implements SubscriptionHandler<InMemoryTransaction> {
  readonly types = new Set(['wallet.opened', 'wallet.credited']);
  readonly balances = new Map<string, number>();
  readonly seen: string[] = [];
  failing = new Set<string>();
  calls = 0;

  async handle(event: object, envelope: RecordedEvent): Promise<TransactionalWork<InMemoryTransaction>> {
    this.calls += 1;
    if (this.failing.has(envelope.streamId)) throw new Error(`cannot project ${envelope.streamId}@${envelope.version}`);
    return async (tx) => {
      tx.onCommit(() => {
        this.seen.push(`${envelope.streamId}@${envelope.version}`);
        const wallet = (event as { walletId: string }).walletId;
        const amount = (event as { amount?: number }).amount ?? 0;
        this.balances.set(wallet, (this.balances.get(wallet) ?? 0) + amount);
      });
    };
  }
}

function newEvent(type: string, payload: unknown) {
  return { eventId: randomUUID(), type, schemaVersion: 1, payload, metadata: {}, tags: [], occurredAt: new Date() };
}

async function setup(time: ReturnType<typeof clock> = clock()) {
  const journal = new InMemoryJournal();
  const catalog = new AggregateCatalog([Wallet]);
  const serializer = new EventSerializer(catalog.events);
  const store = new InMemoryCheckpointStore(time);
  const append = async (wallet: string, ...events: Array<[string, unknown]>) => {
    const version = await journal.streamVersion(`wallet-${wallet}`);
    return journal.append({
      writes: [{ streamId: `wallet-${wallet}`, aggregateType: 'wallet', expectedVersion: version, events: events.map(([t, p]) => newEvent(t, p)) }],
    });
  };
  const runner = (handler: SubscriptionHandler<InMemoryTransaction>, options: Partial<ConstructorParameters<typeof SubscriptionRunner>[2]> = {}) =>
    new SubscriptionRunner<InMemoryTransaction>({ journal, store, serializer, clock: time, logger: quiet }, handler, {
      name: 'balances',
      batchSize: 3,
      backoffInitialMs: 1,
      backoffMaxMs: 2,
      maxAttempts: 3,
      ...options,
    });
  return { journal, store, time, append, runner };
}

describe('SubscriptionRunner', () => {
  it('delivers every event once, in feed order, and a new runner continues from the checkpoint', async () => {
    const { append, runner, store } = await setup();
    await append('a', ['wallet.opened', { walletId: 'a', owner: 'x' }], ['wallet.credited', { walletId: 'a', amount: 5 }]);
    await append('b', ['wallet.opened', { walletId: 'b', owner: 'y' }]);
    await append('a', ['wallet.credited', { walletId: 'a', amount: 7 }]);
    const handler = new BalancesHandler();
    const first = runner(handler);
    await first.drain();
    expect(handler.seen).toEqual(['wallet-a@1', 'wallet-a@2', 'wallet-b@1', 'wallet-a@3']);
    expect((await store.load('balances'))?.position).toBe('4');
    await first.stop();

    await append('b', ['wallet.credited', { walletId: 'b', amount: 1 }]);
    const second = runner(handler, { owner: 'second' });
    await second.drain();
    expect(handler.seen).toEqual(['wallet-a@1', 'wallet-a@2', 'wallet-b@1', 'wallet-a@3', 'wallet-b@2']);
    expect(handler.balances.get('a')).toBe(12);
  });

  it('lets one runner hold the subscription; another takes over only once the lease expired', async () => {
    const { append, runner, time } = await setup();
    await append('a', ['wallet.opened', { walletId: 'a', owner: 'x' }]);
    const one = new BalancesHandler();
    const two = new BalancesHandler();
    const first = runner(one, { owner: 'one', leaseMs: 1_000 });
    const second = runner(two, { owner: 'two', leaseMs: 1_000 });
    expect((await first.runOnce()).active).toBe(true);
    expect((await second.runOnce()).active).toBe(false);
    expect(two.calls).toBe(0);

    await append('a', ['wallet.credited', { walletId: 'a', amount: 3 }]);
    time.advance(1_001);
    const step = await second.runOnce();
    expect(step).toMatchObject({ active: true, handled: 1 });
    expect(two.seen).toEqual(['wallet-a@2']);
    // The first runner still believes it holds the lease; its step is fenced off and changes nothing.
    await append('a', ['wallet.credited', { walletId: 'a', amount: 4 }]);
    const stale = await first.runOnce();
    expect(stale.active).toBe(false);
    expect(one.seen).toEqual(['wallet-a@1']);
  });

  it('fences a step by position: a step from a position that moved rolls back its work', async () => {
    const { append, store } = await setup();
    await append('a', ['wallet.opened', { walletId: 'a', owner: 'x' }]);
    await store.acquire('balances', 'me', 1_000);
    await store.advance({ name: 'balances', owner: 'me', from: null, to: '1' });
    let applied = false;
    await expect(
      store.advance({ name: 'balances', owner: 'me', from: null, to: '1' }, async (tx) => tx.onCommit(() => (applied = true))),
    ).rejects.toBeInstanceOf(CheckpointLeaseLostError);
    expect(applied).toBe(false);
  });

  it('parks an event that keeps failing, holds back only the later events of its stream, and re-drives them in order', async () => {
    const { append, runner, store } = await setup();
    await append('bad', ['wallet.opened', { walletId: 'bad', owner: 'x' }]);
    await append('good', ['wallet.opened', { walletId: 'good', owner: 'y' }]);
    await append('bad', ['wallet.credited', { walletId: 'bad', amount: 2 }]);
    await append('good', ['wallet.credited', { walletId: 'good', amount: 3 }]);
    const handler = new BalancesHandler();
    handler.failing.add('wallet-bad');
    const subscription = runner(handler);
    await subscription.drain();

    expect(handler.seen).toEqual(['wallet-good@1', 'wallet-good@2']);
    const parked = await store.parked('balances');
    expect(parked.map((event) => [event.streamId, event.version, event.reason])).toEqual([
      ['wallet-bad', 1, 'failed'],
      ['wallet-bad', 2, 'held'],
    ]);
    expect(parked[0]?.attempts).toBe(3);
    expect(parked[0]?.error).toContain('cannot project wallet-bad@1');
    const status = await subscription.status();
    expect(status).toMatchObject({ active: true, parked: 2, position: '4' });
    expect(status.lastError).toContain('wallet-bad@1');

    // A later event of the parked stream is held too; other streams keep flowing.
    await append('bad', ['wallet.credited', { walletId: 'bad', amount: 5 }]);
    await append('good', ['wallet.credited', { walletId: 'good', amount: 1 }]);
    await subscription.drain();
    expect(handler.seen).toEqual(['wallet-good@1', 'wallet-good@2', 'wallet-good@3']);
    expect((await store.parked('balances')).length).toBe(3);

    handler.failing.clear();
    expect(await subscription.redrive('wallet-bad')).toBe(3);
    await subscription.wake();
    expect(handler.seen.slice(3)).toEqual(['wallet-bad@1', 'wallet-bad@2', 'wallet-bad@3']);
    expect(await store.parked('balances')).toEqual([]);
    expect(handler.balances.get('bad')).toBe(7);

    // The stream is released: its next event flows directly.
    await append('bad', ['wallet.credited', { walletId: 'bad', amount: 1 }]);
    await subscription.drain();
    expect(handler.seen.at(-1)).toBe('wallet-bad@4');
  });

  it('parks an event that cannot be decoded at once, naming the problem', async () => {
    const { append, runner, store } = await setup();
    await append('a', ['wallet.opened', { walletId: 'a', owner: 'x' }], ['wallet.credited', 'not an object']);
    await append('b', ['wallet.opened', { walletId: 'b', owner: 'y' }]);
    const handler = new BalancesHandler();
    await runner(handler).drain();
    expect(handler.seen).toEqual(['wallet-a@1', 'wallet-b@1']);
    const [parked] = await store.parked('balances');
    expect(parked).toMatchObject({ streamId: 'wallet-a', version: 2, reason: 'failed', attempts: 1 });
    expect(parked?.error).toMatch(/EventDecodingError.*wallet\.credited/);
  });

  it('waits until the subscription has passed a command position, or times out naming both positions', async () => {
    const { append, runner } = await setup();
    const written = await append('a', ['wallet.opened', { walletId: 'a', owner: 'x' }]);
    const subscription = runner(new BalancesHandler());
    await expect(subscription.waitFor(written.cursor!, 20)).rejects.toBeInstanceOf(ProjectionWaitTimeoutError);
    const waiting = subscription.waitFor(written.cursor!, 2_000);
    await subscription.drain();
    await expect(waiting).resolves.toBeUndefined();
  });

  it('rebuilds from zero into a cleared model, and the live runner continues from the rebuilt position', async () => {
    const { append, runner } = await setup();
    for (let i = 0; i < 4; i++) await append(`w${i}`, ['wallet.opened', { walletId: `w${i}`, owner: 'x' }], ['wallet.credited', { walletId: `w${i}`, amount: i }]);
    const handler = new BalancesHandler();
    const live = runner(handler);
    await live.drain();
    const incremental = new Map(handler.balances);
    handler.balances.set('w1', 999);
    const progress: number[] = [];
    const result = await live.rebuild(
      async (tx) => tx.onCommit(() => handler.balances.clear()),
      (p) => progress.push(p.read),
    );
    expect(result).toMatchObject({ read: 8, handled: 8, parked: 0, position: '8' });
    expect(progress).toEqual([3, 6, 8]);
    expect(handler.balances).toEqual(incremental);
    await append('w0', ['wallet.credited', { walletId: 'w0', amount: 10 }]);
    await live.drain();
    expect(handler.balances.get('w0')).toBe(10);
  });

  it('handles events of different partitions concurrently, never two of one partition at once or in one transaction', async () => {
    const { append, runner } = await setup();
    for (let round = 0; round < 3; round++) {
      for (const wallet of ['a', 'b', 'c', 'd']) {
        await append(wallet, round === 0 ? ['wallet.opened', { walletId: wallet, owner: 'x' }] : ['wallet.credited', { walletId: wallet, amount: 1 }]);
      }
    }
    const inFlight = new Map<string, number>();
    let most = 0;
    const order: string[] = [];
    const perTransaction = new Map<InMemoryTransaction, Set<string>>();
    const handler: SubscriptionHandler<InMemoryTransaction> = {
      types: '*',
      partitionKey: (event) => (event as { walletId: string }).walletId,
      async handle(event, envelope) {
        const wallet = (event as { walletId: string }).walletId;
        if (inFlight.get(wallet)) throw new Error(`two events of ${wallet} at once`);
        inFlight.set(wallet, 1);
        most = Math.max(most, [...inFlight.values()].reduce((sum, n) => sum + n, 0));
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight.set(wallet, 0);
        return async (tx) => {
          const wallets = perTransaction.get(tx) ?? new Set<string>();
          if (wallets.has(wallet)) throw new Error(`two events of ${wallet} in one transaction`);
          perTransaction.set(tx, wallets.add(wallet));
          tx.onCommit(() => order.push(`${envelope.streamId}@${envelope.version}`));
        };
      },
    };
    await runner(handler, { batchSize: 12, concurrency: 4, maxAttempts: 1 }).drain();
    expect(most).toBe(4);
    // At least one transaction per round (a wallet's next event waits for its previous one's
    // commit), and events of different wallets shared transactions.
    expect(perTransaction.size).toBeGreaterThanOrEqual(3);
    expect(perTransaction.size).toBeLessThan(12);
    // Committed in feed order.
    expect(order).toEqual(['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd', 'a', 'b', 'c', 'd'].map((w, i) => `wallet-${w}@${Math.floor(i / 4) + 1}`));
  });

  describe('partitioned handlers (sagas): the pipeline', () => {
    /** A saga-like handler: one partition per wallet; each event's change is applied when its step commits, and counted. */
    function instances() {
      const applied = new Map<string, number>();
      const calls = new Map<string, number>();
      const committed: string[] = [];
      const handler: SubscriptionHandler<InMemoryTransaction> & { failing: Set<string>; failWorkOnce: Set<string>; delay: (key: string) => number } = {
        types: '*',
        failing: new Set(),
        failWorkOnce: new Set(),
        delay: () => 1,
        partitionKey: (event) => (event as { walletId: string }).walletId,
        async handle(event, envelope) {
          const key = `${envelope.streamId}@${envelope.version}`;
          calls.set(key, (calls.get(key) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, handler.delay(key)));
          if (handler.failing.has(envelope.streamId)) throw new Error(`instance ${envelope.streamId} refuses ${key}`);
          return async (tx) => {
            if (handler.failWorkOnce.delete(key)) throw new Error(`the change of ${key} conflicts`);
            tx.onCommit(() => {
              applied.set(key, (applied.get(key) ?? 0) + 1);
              committed.push(key);
            });
          };
        },
      };
      return { handler, applied, calls, committed };
    }

    it('commits several instances\' events in one transaction; when one instance fails, the others are applied once and it is retried, then parked', async () => {
      const { append, runner, store } = await setup();
      for (const wallet of ['a', 'b', 'c', 'd', 'e', 'f']) await append(wallet, ['wallet.opened', { walletId: wallet, owner: 'x' }]);
      await append('c', ['wallet.credited', { walletId: 'c', amount: 1 }]);
      await append('a', ['wallet.credited', { walletId: 'a', amount: 1 }]);
      const { handler, applied, calls } = instances();
      handler.failing.add('wallet-c');
      const transactions: Array<string | null> = [];
      const advance = store.advance.bind(store);
      store.advance = (step, work) => {
        if (work) transactions.push(step.to);
        return advance(step, work);
      };
      await runner(handler, { batchSize: 100, concurrency: 4 }).drain();

      // Every other instance's events were applied exactly once, though the events after the
      // failed one were handled again after it was parked.
      for (const key of ['wallet-a@1', 'wallet-b@1', 'wallet-d@1', 'wallet-e@1', 'wallet-f@1', 'wallet-a@2']) expect(applied.get(key)).toBe(1);
      expect(applied.has('wallet-c@1')).toBe(false);
      expect(calls.get('wallet-c@1')).toBe(3);
      const parked = await store.parked('balances');
      expect(parked.map((event) => [event.streamId, event.version, event.reason, event.attempts])).toEqual([
        ['wallet-c', 1, 'failed', 3],
        ['wallet-c', 2, 'held', 0],
      ]);
      expect((await store.load('balances'))?.position).toBe('8');
      // Several instances shared a transaction.
      expect(transactions.length).toBeLessThan(8);
    });

    it('hands the works of one transaction to the handler\'s runWorks together, in feed order', async () => {
      const { append, runner } = await setup();
      for (const wallet of ['a', 'b', 'c', 'd']) await append(wallet, ['wallet.opened', { walletId: wallet, owner: 'x' }]);
      const { handler, committed } = instances();
      const batches: number[] = [];
      handler.runWorks = async (works, tx) => {
        batches.push(works.length);
        for (const work of works) await work(tx);
      };
      await runner(handler, { batchSize: 100, concurrency: 4 }).drain();
      expect(batches.reduce((sum, n) => sum + n, 0)).toBe(4);
      expect(batches.length).toBeLessThan(4);
      expect(committed).toEqual(['wallet-a@1', 'wallet-b@1', 'wallet-c@1', 'wallet-d@1']);
    });

    it('redoes a prefix one event at a time when one change fails inside its transaction: nothing is applied twice', async () => {
      const { append, runner } = await setup();
      for (const wallet of ['a', 'b', 'c', 'd']) await append(wallet, ['wallet.opened', { walletId: wallet, owner: 'x' }]);
      const { handler, applied, committed } = instances();
      handler.failWorkOnce.add('wallet-b@1');
      await runner(handler, { batchSize: 100, concurrency: 4 }).drain();
      expect([...applied.values()]).toEqual([1, 1, 1, 1]);
      expect(committed).toEqual(['wallet-a@1', 'wallet-b@1', 'wallet-c@1', 'wallet-d@1']);
    });

    it('never leaves a checkpoint move deferred past its step (feed\'s `deferred` is the chunked step\'s): what a step passed is stored when it ends, and a takeover goes on after it', async () => {
      /** A partitioned handler with nothing to write, slow enough (on the test clock) that a step stops reading after its first page. */
      const ignoring = (time: ReturnType<typeof clock>, passed: string[]): SubscriptionHandler<InMemoryTransaction> => ({
        types: '*',
        partitionKey: (event) => (event as { walletId: string }).walletId,
        handle: async (_event, envelope) => {
          passed.push(`${envelope.streamId}@${envelope.version}`);
          time.advance(400);
        },
      });

      // With concurrency 1 the same handler is not partitioned: the chunked step defers its move.
      {
        const { append, runner, store, time } = await setup();
        for (let i = 0; i < 10; i++) await append(`w${i}`, ['wallet.opened', { walletId: `w${i}`, owner: 'x' }]);
        const chunked = runner(ignoring(time, []), { batchSize: 3, concurrency: 1 });
        expect(await chunked.runOnce()).toMatchObject({ active: true, handled: 3, caughtUp: false });
        // Still at the start: nothing stored yet.
        expect((await store.load('balances'))?.position).toBeNull();
      }

      const { append, runner, store, time } = await setup();
      for (let i = 0; i < 10; i++) await append(`w${i}`, ['wallet.opened', { walletId: `w${i}`, owner: 'x' }]);
      const steps: Array<string | null> = [];
      const advance = store.advance.bind(store);
      store.advance = (step, work) => {
        steps.push(step.to);
        return advance(step, work);
      };
      const passed: string[] = [];
      const first = runner(ignoring(time, passed), { batchSize: 3, concurrency: 4, leaseMs: 10_000 });
      expect(await first.runOnce()).toMatchObject({ active: true, handled: 3, caughtUp: false });
      // Behind, and nothing written: the pipeline stored its position anyway, once.
      expect(steps).toEqual(['3']);
      expect((await store.load('balances'))?.position).toBe('3');

      // The holder dies here: the next one does not pass those three again.
      time.advance(10_001);
      passed.length = 0;
      await runner(ignoring(time, passed), { batchSize: 3, concurrency: 4, owner: 'next', leaseMs: 10_000 }).drain();
      expect(passed).toEqual(Array.from({ length: 7 }, (_, i) => `wallet-w${i + 3}@1`));
      expect((await store.load('balances'))?.position).toBe('10');
    });

    it('hands a partitioned handler each event through `handle`, never `handleBatch` (the pipeline commits per prefix, not per chunk)', async () => {
      const { append, runner } = await setup();
      for (const wallet of ['a', 'b', 'c', 'd']) await append(wallet, ['wallet.opened', { walletId: wallet, owner: 'x' }]);
      const { handler, committed } = instances();
      let batches = 0;
      const batching: SubscriptionHandler<InMemoryTransaction> = Object.assign(handler, {
        handleBatch: async () => {
          batches += 1;
        },
      });
      await runner(batching, { batchSize: 100, concurrency: 4 }).drain();
      expect(batches).toBe(0);
      expect(committed).toEqual(['wallet-a@1', 'wallet-b@1', 'wallet-c@1', 'wallet-d@1']);
    });

    it('winds a busy pipeline down after a second of reading, so a re-drive requested meanwhile is served under a steady load', async () => {
      const { append, runner, time } = await setup();
      await append('bad', ['wallet.opened', { walletId: 'bad', owner: 'x' }]);
      let failing = true;
      let busy = 0;
      const order: string[] = [];
      let subscription!: SubscriptionRunner<InMemoryTransaction>;
      const handler: SubscriptionHandler<InMemoryTransaction> = {
        types: '*',
        partitionKey: (event) => (event as { walletId: string }).walletId,
        async handle(event, envelope) {
          const wallet = (event as { walletId: string }).walletId;
          if (wallet === 'bad' && failing) throw new Error('not yet');
          order.push(wallet === 'bad' ? 'bad' : `busy-${busy}`);
          // A steady load: each busy event brings the next one (announced at once), 300 ms later.
          if (wallet !== 'bad' && busy < 20) {
            busy += 1;
            time.advance(300);
            await append(`busy${busy}`, ['wallet.opened', { walletId: `busy${busy}`, owner: 'y' }]);
            void subscription.wake();
          }
          return async () => undefined;
        },
      };
      subscription = runner(handler, { batchSize: 100, concurrency: 4 });
      await subscription.drain();
      failing = false;
      await append('busy0', ['wallet.opened', { walletId: 'busy0', owner: 'y' }]);
      const running = subscription.wake();
      await subscription.redrive('wallet-bad');
      await running;
      await subscription.wake();
      expect(busy).toBe(20);
      // Re-driven after at most a few busy events (about a second of them), not after the whole load.
      expect(order.indexOf('bad')).toBeGreaterThan(-1);
      expect(order.indexOf('bad')).toBeLessThan(10);
    });

    it('reads on while a slow instance is handled: a later instance is handled meanwhile, and commits after it in feed order', async () => {
      const { append, runner, store } = await setup();
      await append('slow', ['wallet.opened', { walletId: 'slow', owner: 'x' }]);
      const { handler, committed, calls } = instances();
      let release: () => void = () => undefined;
      const slowDone = new Promise<void>((resolve) => (release = resolve));
      handler.delay = (key) => (key === 'wallet-slow@1' ? 0 : 1);
      const original = handler.handle.bind(handler);
      handler.handle = async (event, envelope) => {
        if (envelope.streamId === 'wallet-slow') await slowDone;
        return original(event, envelope);
      };
      const subscription = runner(handler, { batchSize: 100, concurrency: 4 });
      const running = subscription.wake();
      await new Promise((resolve) => setTimeout(resolve, 5));
      await append('fast', ['wallet.opened', { walletId: 'fast', owner: 'y' }]);
      void subscription.wake();
      // The fast instance is handled while the slow one still runs (no lockstep on the slow one)...
      for (let i = 0; i < 100 && !calls.has('wallet-fast@1'); i++) await new Promise((resolve) => setTimeout(resolve, 2));
      expect(calls.get('wallet-fast@1')).toBe(1);
      // ...but nothing commits past the slow one before it is done: the checkpoint keeps feed order.
      expect(committed).toEqual([]);
      expect((await store.load('balances'))?.position ?? null).toBeNull();
      release();
      await running;
      await subscription.drain();
      expect(committed).toEqual(['wallet-slow@1', 'wallet-fast@1']);
      expect((await store.load('balances'))?.position).toBe('2');
    });

    it('wakeFor: a local commit of an event the handler takes reaches a step in progress; one of nothing it takes reads nothing', async () => {
      const { append, runner, journal } = await setup();
      await append('slow', ['wallet.opened', { walletId: 'slow', owner: 'x' }]);
      const { handler, committed, calls } = instances();
      const taken: SubscriptionHandler<InMemoryTransaction> = { ...handler, types: new Set(['wallet.opened']) };
      let release: () => void = () => undefined;
      const slowDone = new Promise<void>((resolve) => (release = resolve));
      let slowStarted = false;
      taken.handle = async (event, envelope) => {
        if (envelope.streamId === 'wallet-slow') {
          slowStarted = true;
          await slowDone;
        }
        return handler.handle(event, envelope);
      };
      const subscription = runner(taken, { batchSize: 100, concurrency: 4 });
      // Between steps it does nothing: wake-ups start steps, wakeFor never does.
      subscription.wakeFor([{ type: 'wallet.opened' } as RecordedEvent]);
      const reads = jest.spyOn(journal, 'readAll');
      const running = subscription.wake();
      for (let i = 0; i < 100 && !slowStarted; i++) await new Promise((resolve) => setTimeout(resolve, 2));
      const readsBefore = reads.mock.calls.length;
      await append('other', ['wallet.credited', { walletId: 'other', amount: 5 }]);
      subscription.wakeFor([{ type: 'wallet.credited' } as RecordedEvent]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(reads.mock.calls.length).toBe(readsBefore);
      await append('fast', ['wallet.opened', { walletId: 'fast', owner: 'y' }]);
      subscription.wakeFor([{ type: 'wallet.opened' } as RecordedEvent]);
      // The fast instance is handled while the slow one still runs, in the same step...
      for (let i = 0; i < 100 && !calls.has('wallet-fast@1'); i++) await new Promise((resolve) => setTimeout(resolve, 2));
      expect(calls.get('wallet-fast@1')).toBe(1);
      expect(committed).toEqual([]);
      release();
      await running;
      await subscription.drain();
      // ...and everything commits in feed order, the event it does not take passed on the way.
      expect(committed).toEqual(['wallet-slow@1', 'wallet-fast@1']);
      expect(calls.has('wallet-other@1')).toBe(false);
      reads.mockRestore();
    });
  });

  it('hands handleBatch plain deliveries: the decoded event and the stored envelope, nothing else', async () => {
    const { append, runner } = await setup();
    await append('a', ['wallet.opened', { walletId: 'a', owner: 'x' }], ['wallet.credited', { walletId: 'a', amount: 5 }]);
    const received: SubscriptionDelivery[] = [];
    await runner({
      types: '*',
      handle: async () => undefined,
      handleBatch: async (deliveries) => {
        received.push(...deliveries);
      },
    }).drain();
    expect(received).toHaveLength(2);
    for (const delivery of received) {
      expect(Object.getPrototypeOf(delivery)).toBe(Object.prototype);
      expect(Object.keys(delivery).sort()).toEqual(['envelope', 'event']);
    }
    expect(received[1]).toStrictEqual({ event: received[1]!.event, envelope: received[1]!.envelope });
    expect(received[1]!.event).toMatchObject({ walletId: 'a', amount: 5 });
    expect(received[1]!.envelope).toMatchObject({ streamId: 'wallet-a', version: 2, type: 'wallet.credited' });
  });

  it('moves the checkpoint once past a stretch of chunks with nothing to write, and still reaches the end of the page', async () => {
    const { append, runner, store } = await setup();
    for (const wallet of ['a', 'b', 'c', 'd', 'e']) await append(wallet, ['wallet.opened', { walletId: wallet, owner: 'x' }]);
    await append('e', ['wallet.credited', { walletId: 'e', amount: 4 }]);
    const handler = new BalancesHandler();
    handler.types.delete('wallet.opened');
    const steps: Array<string | null> = [];
    const advance = store.advance.bind(store);
    store.advance = (step, work) => {
      steps.push(step.to);
      return advance(step, work);
    };
    await runner(handler, { batchSize: 6, commitEvery: 2 }).drain();
    // Chunks [1,2] and [3,4] have nothing to write; the chunk holding the credit commits past all.
    expect(steps).toEqual(['6']);
    expect(handler.seen).toEqual(['wallet-e@2']);
    expect((await store.load('balances'))?.position).toBe('6');
  });

  it('across pages with nothing to write, stores the checkpoint when it catches up or stops, not per page; a takeover re-reads only what was not stored', async () => {
    const { append, runner, store, time } = await setup();
    for (let i = 0; i < 10; i++) await append(`w${i}`, ['wallet.opened', { walletId: `w${i}`, owner: 'x' }]);
    const passed: string[] = [];
    const ignoring: SubscriptionHandler<InMemoryTransaction> = {
      types: '*',
      handle: async (_event, envelope) => void passed.push(`${envelope.streamId}@${envelope.version}`),
    };
    const steps: Array<string | null> = [];
    const advance = store.advance.bind(store);
    store.advance = (step, work) => {
      steps.push(step.to);
      return advance(step, work);
    };
    // Pages of 3: three full pages pass with their moves deferred, the short last one stores all.
    await runner(ignoring, { batchSize: 3 }).drain();
    expect(passed).toHaveLength(10);
    expect(steps).toEqual(['10']);
    expect((await store.load('balances'))?.position).toBe('10');

    // Stopped while behind: what it passed is stored on the way out.
    for (let i = 10; i < 19; i++) await append(`w${i}`, ['wallet.opened', { walletId: `w${i}`, owner: 'x' }]);
    const stopping = runner(ignoring, { batchSize: 3, owner: 'stopping' });
    time.advance(10_001);
    expect(await stopping.runOnce()).toMatchObject({ active: true, handled: 3, caughtUp: false });
    expect(await stopping.runOnce()).toMatchObject({ active: true, handled: 3, caughtUp: false });
    expect((await store.load('balances'))?.position).toBe('10');
    await stopping.stop();
    expect((await store.load('balances'))?.position).toBe('16');

    // A holder that dies with deferred moves: the next one starts from the stored position and
    // passes those events again (the at-least-once part; nothing transactional was deferred).
    const dying = runner(ignoring, { batchSize: 3, owner: 'dying', leaseMs: 1_000 });
    expect(await dying.runOnce()).toMatchObject({ active: true, handled: 3, caughtUp: false });
    expect((await store.load('balances'))?.position).toBe('16');
    time.advance(1_001);
    passed.length = 0;
    await runner(ignoring, { batchSize: 3, owner: 'next', leaseMs: 1_000 }).drain();
    expect(passed).toEqual(['wallet-w16@1', 'wallet-w17@1', 'wallet-w18@1']);
    expect((await store.load('balances'))?.position).toBe('19');
  });

  describe('leases through long work (jest fake timers drive the clock, the timers and the handlers)', () => {
    /** The faked `Date`: the store's leases, the runner's checks and its renewal timer share one time. */
    const fakeTime: ReturnType<typeof clock> = { now: () => new Date(), advance: (ms) => jest.setSystemTime(Date.now() + ms) };
    afterEach(() => {
      jest.useRealTimers();
    });

    /** Wraps a handler so that each call first takes `durations[call]` ms of (fake) time. */
    function slow(inner: BalancesHandler, durations: (call: number) => number): SubscriptionHandler<InMemoryTransaction> & { calls: number } {
      return {
        types: inner.types,
        calls: 0,
        async handle(event, envelope) {
          const ms = durations(this.calls);
          this.calls += 1;
          await new Promise((resolve) => setTimeout(resolve, ms));
          return inner.handle(event, envelope);
        },
      };
    }

    async function walletsOpened(append: (wallet: string, ...events: Array<[string, unknown]>) => Promise<unknown>, count: number): Promise<void> {
      for (let i = 0; i < count; i++) await append(`w${i}`, ['wallet.opened', { walletId: `w${i}`, owner: 'x' }]);
    }

    /** Advances fake time in steps until `step` settles; `between` runs after each. */
    async function runUntilSettled<T>(step: Promise<T>, between: () => Promise<void> = async () => undefined): Promise<{ result: T; elapsed: number }> {
      let settled = false;
      void step.then(() => (settled = true), () => (settled = true));
      const start = Date.now();
      while (!settled) {
        await jest.advanceTimersByTimeAsync(100);
        await between();
      }
      return { result: await step, elapsed: Date.now() - start };
    }

    it('keeps the lease through one call and one chunk slower than the lease: a standby polling all along never takes over', async () => {
      jest.useFakeTimers({ now: Date.UTC(2025, 0, 1) });
      const { append, runner, store } = await setup(fakeTime);
      await walletsOpened(append, 10);
      const projected = new BalancesHandler();
      // The first call alone takes two and a half leases; the chunk takes five.
      const handler = slow(projected, (call) => (call === 0 ? 2_500 : 300));
      const standbyHandler = new BalancesHandler();
      const holder = runner(handler, { owner: 'one', leaseMs: 1_000, batchSize: 10 });
      const standby = runner(standbyHandler, { owner: 'two', leaseMs: 1_000, batchSize: 10 });
      let takeovers = 0;
      const { result } = await runUntilSettled(holder.runOnce(), async () => {
        if ((await standby.runOnce()).active) takeovers += 1;
      });
      expect(result).toMatchObject({ active: true, handled: 10 });
      expect(takeovers).toBe(0);
      expect(standbyHandler.calls).toBe(0);
      expect(handler.calls).toBe(10);
      expect(projected.seen).toHaveLength(10);
      expect((await store.load('balances'))?.position).toBe('10');
      expect(holder.isActive).toBe(true);
    });

    it('a runner whose renewal finds the lease taken makes no further handler call and leaves the checkpoint where it was', async () => {
      jest.useFakeTimers({ now: Date.UTC(2025, 0, 1) });
      const { append, runner, store } = await setup(fakeTime);
      await walletsOpened(append, 10);
      const projected = new BalancesHandler();
      const handler = slow(projected, () => 300);
      const holder = runner(handler, { owner: 'one', leaseMs: 1_000, batchSize: 10 });
      const step = holder.runOnce();
      await jest.advanceTimersByTimeAsync(100);
      // The lease changes hands under the runner (as after a pause longer than the lease).
      await store.release('balances', 'one');
      expect(await store.acquire('balances', 'two', 60_000)).toBeDefined();
      const { result } = await runUntilSettled(step);
      expect(result.active).toBe(false);
      // Calls at 0 and 300 ms; the renewal at half-life (500 ms) finds the lease taken, so the call
      // in flight is the last one.
      expect(handler.calls).toBe(2);
      expect(projected.seen).toEqual([]);
      expect(holder.isActive).toBe(false);
      expect(await store.load('balances')).toMatchObject({ position: null, leaseOwner: 'two' });
    });

    it('stop() mid-step ends the renewals with the step: no renewal after the lease is given back', async () => {
      jest.useFakeTimers({ now: Date.UTC(2025, 0, 1) });
      const { append, runner, store } = await setup(fakeTime);
      await walletsOpened(append, 10);
      const handler = slow(new BalancesHandler(), () => 300);
      const holder = runner(handler, { owner: 'one', leaseMs: 1_000, batchSize: 10, commitEvery: 5 });
      const renewals: number[] = [];
      const acquire = store.acquire.bind(store);
      store.acquire = async (...args) => {
        renewals.push(Date.now());
        return acquire(...args);
      };
      const draining = holder.wake();
      await jest.advanceTimersByTimeAsync(700);
      await runUntilSettled(holder.stop());
      await draining;
      const stoppedAt = Date.now();
      // The page took three leases: it was renewed while it ran.
      expect(renewals.length).toBeGreaterThan(3);
      expect(await store.load('balances')).toMatchObject({ leaseOwner: null });
      await jest.advanceTimersByTimeAsync(10_000);
      expect(renewals.filter((at) => at > stoppedAt)).toEqual([]);
      expect(await store.load('balances')).toMatchObject({ leaseOwner: null });
      // The step in progress finished its page (stop() waits for it), and nothing after it.
      expect(handler.calls).toBe(10);
    });

    it('a lost lease ends a backoff wait at once instead of retrying after it', async () => {
      jest.useFakeTimers({ now: Date.UTC(2025, 0, 1) });
      const { append, runner, store } = await setup(fakeTime);
      await walletsOpened(append, 1);
      const projected = new BalancesHandler();
      projected.failing.add('wallet-w0');
      const holder = runner(projected, { owner: 'one', leaseMs: 1_000, backoffInitialMs: 5_000, backoffMaxMs: 5_000, maxAttempts: 5 });
      const step = holder.runOnce();
      await jest.advanceTimersByTimeAsync(100);
      await store.release('balances', 'one');
      await store.acquire('balances', 'two', 60_000);
      const { result, elapsed } = await runUntilSettled(step);
      expect(result.active).toBe(false);
      // It stops at the renewal (half-life, 500 ms in), not when the 5 s wait is over.
      expect(elapsed).toBeLessThan(1_000);
      // The chunk's call and the first retry's; none after the wait.
      expect(projected.calls).toBe(2);
      expect(await store.parked('balances')).toEqual([]);
    });
  });
});
