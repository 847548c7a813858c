import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import { AggregateCatalog, Event, EventSerializer, SubscriptionRunner, type ChronicleLogger, type SubscriptionHandler } from '@chronicle/core';
import { TypeOrmCheckpointStore, TypeOrmJournal } from '@chronicle/typeorm';
import { openSqliteMemory, type TestDatabase } from '../support/typeorm-test-data-sources.js';

@Event('sqlite-sub.tested')
class Tested {
  constructor(readonly label: string) {}
}

const quiet: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const serializer = new EventSerializer(new AggregateCatalog([], [Tested]).events);

describe('SQLite subscriptions: lease renewal beside a checkpoint transaction', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openSqliteMemory();
  });
  afterEach(async () => {
    await database.close();
  });

  it('a renewal that comes due while the checkpoint transaction holds the write lock waits for it and does not deadlock it', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    await journal.append({
      writes: [
        {
          streamId: 'slow',
          aggregateType: 'sub',
          expectedVersion: 0,
          events: [{ eventId: randomUUID(), type: 'sqlite-sub.tested', schemaVersion: 1, payload: { label: 'x' }, metadata: {}, tags: [], occurredAt: new Date() }],
        },
      ],
    });
    await database.dataSource.query('CREATE TABLE applied (event_id text PRIMARY KEY)');
    const store = new TypeOrmCheckpointStore(database.dataSource, database.tables);
    let transactionOpen = false;
    let renewalsDuringTransaction = 0;
    let transactionEndedAt = 0;
    const acquire = store.acquire.bind(store);
    store.acquire = (name, owner, leaseMs) => {
      if (transactionOpen) renewalsDuringTransaction += 1;
      return acquire(name, owner, leaseMs);
    };
    const leaseMs = 1_000;
    // The transactional work outlasts half the lease, so the renewal timer fires while it runs.
    const handler: SubscriptionHandler<EntityManager> = {
      types: '*',
      async handle(_event, envelope) {
        return async (tx) => {
          transactionOpen = true;
          await tx.query('INSERT INTO applied (event_id) VALUES (?)', [envelope.eventId]);
          await new Promise((resolve) => setTimeout(resolve, leaseMs * 0.8));
          transactionOpen = false;
          transactionEndedAt = Date.now();
        };
      },
    };
    const runner = new SubscriptionRunner<EntityManager>({ journal, store, serializer, logger: quiet }, handler, {
      name: 'projection:slow-transaction',
      owner: 'one',
      leaseMs,
    });
    const step = await runner.runOnce();
    expect(step).toMatchObject({ active: true, handled: 1 });
    expect(renewalsDuringTransaction).toBeGreaterThanOrEqual(1);
    const checkpoint = await store.load('projection:slow-transaction');
    expect(checkpoint).toMatchObject({ position: runner.currentPosition, leaseOwner: 'one' });
    expect(checkpoint?.position).not.toBeNull();
    // The renewal queued behind the transaction ran once it committed: the lease is current again.
    expect(checkpoint!.leaseUntil!.getTime()).toBeGreaterThanOrEqual(transactionEndedAt + leaseMs);
    expect(await database.dataSource.query('SELECT count(*) AS n FROM applied')).toEqual([{ n: 1 }]);
    await runner.stop();
  }, 10_000);
});
