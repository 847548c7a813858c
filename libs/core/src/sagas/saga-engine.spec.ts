import { randomUUID } from 'node:crypto';
import { InMemorySagaStore } from '../adapters/in-memory-saga-store.js';
import type { InMemoryTransaction } from '../adapters/in-memory-transaction.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { Event } from '../events/event.decorator.js';
import type { JsonValue } from '../events/json.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import type { CommandResult } from '../commands/command-result.js';
import type { SagaContext } from './saga-context.js';
import { SagaEngine } from './saga-engine.js';
import { SagaHandler, StartsSaga } from './saga-handler.decorator.js';
import { Saga } from './saga.decorator.js';

@Event('order.placed')
class OrderPlaced {
  constructor(readonly orderId: string) {}
}
@Event('order.paid')
class OrderPaid {
  constructor(readonly orderId: string) {}
}

@Saga({ name: 'shipping', stateVersion: 2 })
class ShippingSaga {
  @StartsSaga(OrderPlaced, { associate: 'orderId' })
  start(_event: OrderPlaced, ctx: SagaContext<{ items: number; paid?: boolean }>): void {
    ctx.state = { items: 1 };
  }

  @SagaHandler(OrderPaid, { associate: 'orderId' })
  paid(_event: OrderPaid, ctx: SagaContext<{ items: number; paid?: boolean }>): void {
    ctx.state.paid = true;
  }

  /** Version 1 stored `count`; version 2 calls it `items`. */
  migrateState(state: JsonValue, fromVersion: number): JsonValue {
    if (fromVersion !== 1) throw new Error(`no migration from ${fromVersion}`);
    const { count, ...rest } = state as { count: number };
    return { ...rest, items: count };
  }
}

function envelope(type: string, payload: object): RecordedEvent {
  return { eventId: randomUUID(), type, schemaVersion: 1, payload, metadata: {}, tags: [], occurredAt: new Date(), streamId: 'order-o1', aggregateType: 'order', version: 1, position: 1 };
}

const dispatcher = async (): Promise<CommandResult> => {
  throw new Error('no commands in this saga');
};

describe('SagaEngine: state schema versions', () => {
  it('migrates a stored state of an older version before the handler sees it, and saves the current version', async () => {
    const store = new InMemorySagaStore();
    const now = new Date();
    await store.save({
      instance: { sagaName: 'shipping', correlationId: 'o1', state: { count: 3 }, stateVersion: 1, version: 0, status: 'active', startedAt: now, updatedAt: now, endedAt: null },
      expectedVersion: 0,
    });
    const engine = new SagaEngine(new ShippingSaga(), { store, dispatcher });
    const change = await engine.decide(new OrderPaid('o1'), envelope('order.paid', { orderId: 'o1' }));
    expect(change?.instance).toMatchObject({ state: { items: 3, paid: true }, stateVersion: 2, version: 1 });
    await store.save(change!);
    expect(await store.load('shipping', 'o1')).toMatchObject({ state: { items: 3, paid: true }, stateVersion: 2, version: 1 });
  });

  it('refuses a stored state of another version when the saga has no migrateState, naming both versions', async () => {
    @Saga({ name: 'strict', stateVersion: 3 })
    class StrictSaga {
      @StartsSaga(OrderPlaced, { associate: 'orderId' }) start(): void {}
      @SagaHandler(OrderPaid, { associate: 'orderId' }) paid(): void {}
    }
    const store = new InMemorySagaStore();
    const now = new Date();
    await store.save({
      instance: { sagaName: 'strict', correlationId: 'o1', state: {}, stateVersion: 1, version: 0, status: 'active', startedAt: now, updatedAt: now, endedAt: null },
      expectedVersion: 0,
    });
    const engine = new SagaEngine(new StrictSaga(), { store, dispatcher });
    const decision = engine.decide(new OrderPaid('o1'), envelope('order.paid', { orderId: 'o1' }));
    await expect(decision).rejects.toBeInstanceOf(ConfigurationError);
    await expect(engine.decide(new OrderPaid('o1'), envelope('order.paid', { orderId: 'o1' }))).rejects.toThrow(
      'has state version 1, the saga expects 3: implement migrateState(state, fromVersion) on StrictSaga',
    );
  });

  it('starts no instance for an event without an association value, and ignores later events of an unknown instance', async () => {
    const engine = new SagaEngine(new ShippingSaga(), { store: new InMemorySagaStore(), dispatcher });
    expect(await engine.decide(new OrderPlaced(''), envelope('order.placed', { orderId: '' }))).toBeUndefined();
    expect(await engine.decide(new OrderPaid('o9'), envelope('order.paid', { orderId: 'o9' }))).toBeUndefined();
  });
});

describe('SagaEngine: deadlines of a completed instance', () => {
  @Saga({ name: 'one-shot' })
  class OneShotSaga {
    @StartsSaga(OrderPlaced, { associate: 'orderId' })
    start(_event: OrderPlaced, ctx: SagaContext<{ step: string }>): void {
      ctx.state = { step: 'placed' };
      if (_event.orderId.startsWith('quick')) ctx.complete();
      else ctx.schedule('remind', { afterMs: 60_000 });
    }

    @SagaHandler(OrderPaid, { associate: 'orderId' })
    paid(_event: OrderPaid, ctx: SagaContext<{ step: string }>): void {
      ctx.complete();
    }
  }

  it('writes no cancellation for an instance that starts and completes in one handling (it has no stored deadline)', async () => {
    const engine = new SagaEngine(new OneShotSaga(), { store: new InMemorySagaStore(), dispatcher });
    const change = await engine.decide(new OrderPlaced('quick-1'), envelope('order.placed', { orderId: 'quick-1' }));
    expect(change).toMatchObject({ expectedVersion: 0, schedule: [], cancel: [], instance: { status: 'completed' } });
  });

  it('still cancels every stored deadline of an instance that completes later', async () => {
    const store = new InMemorySagaStore();
    const engine = new SagaEngine(new OneShotSaga(), { store, dispatcher });
    await store.save((await engine.decide(new OrderPlaced('o1'), envelope('order.placed', { orderId: 'o1' })))!);
    expect((await store.deadlines('one-shot', 'o1')).map((deadline) => deadline.name)).toEqual(['remind']);
    const change = await engine.decide(new OrderPaid('o1'), envelope('order.paid', { orderId: 'o1' }));
    expect(change).toMatchObject({ expectedVersion: 1, cancel: ['*'], instance: { status: 'completed' } });
    await store.save(change!);
    expect(await store.deadlines('one-shot', 'o1')).toEqual([]);
  });
});

describe('SagaEngine: the changes of one transaction', () => {
  it('saves the changes of one checkpoint transaction with one saveAll, and falls back to save for works it did not make', async () => {
    const store = new InMemorySagaStore();
    const calls: number[] = [];
    const saveAll = store.saveAll.bind(store);
    store.saveAll = async (changes, tx) => {
      calls.push(changes.length);
      return saveAll(changes, tx);
    };
    const engine = new SagaEngine<InMemoryTransaction>(new ShippingSaga(), { store, dispatcher });
    const works = await Promise.all(['o1', 'o2', 'o3'].map((id) => engine.handle(new OrderPlaced(id), envelope('order.placed', { orderId: id }))));
    const applies: Array<() => void> = [];
    const tx: InMemoryTransaction = { onCommit: (apply) => void applies.push(apply) };
    await engine.runWorks(works.filter((work) => work !== undefined), tx);
    for (const apply of applies) apply();
    expect(calls).toEqual([3]);
    expect((await store.list('shipping')).map((instance) => instance.correlationId)).toEqual(['o1', 'o2', 'o3']);

    let foreign = 0;
    await engine.runWorks([async () => void (foreign += 1)], tx);
    expect(foreign).toBe(1);
    expect(calls).toEqual([3]);
  });
});
