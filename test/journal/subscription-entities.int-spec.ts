import { afterEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import {
  createChronicleEntities,
  runChronicleMigrations,
  TypeOrmCheckpointStore,
  TypeOrmSagaStore,
  type ChronicleEntityOptions,
} from '@chronicle/typeorm';
import { createSchema, describePostgres, POSTGRES_URL, uniqueSchemaName } from '../support/services.js';

const NOW = new Date(Date.UTC(2024, 2, 3, 4, 5, 6, 789));
const LATER = new Date(NOW.getTime() + 60_000);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Writes through the checkpoint and saga stores, then reads every new table back through the entities. */
async function readsBackThroughEntities(dataSource: DataSource, options: ChronicleEntityOptions): Promise<void> {
  const entities = createChronicleEntities(options);
  const tables = { ...(options.schema === undefined ? {} : { schema: options.schema }), ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }) };
  await runChronicleMigrations(dataSource, tables);
  const clock = { now: () => NOW };
  const checkpoints = new TypeOrmCheckpointStore(dataSource, { ...tables, clock });
  const sagas = new TypeOrmSagaStore(dataSource, { ...tables, clock });

  await checkpoints.acquire('projection:balances', 'runner-1', 1_000);
  await checkpoints.advance({
    name: 'projection:balances',
    owner: 'runner-1',
    from: null,
    to: '42',
    lastError: 'parked',
    park: [
      {
        subscription: 'projection:balances',
        eventId: 'evt-1',
        streamId: 'wallet-1',
        version: 3,
        position: 5_000_000_001,
        type: 'wallet.credited',
        reason: 'failed',
        error: 'boom',
        attempts: 2,
        parkedAt: NOW,
        redriveRequestedAt: null,
      },
    ],
  });
  await sagas.save({
    instance: {
      sagaName: 'transfer',
      correlationId: 'tr-1',
      state: { step: 'debited', amount: 12.5 },
      stateVersion: 2,
      version: 1,
      status: 'active',
      startedAt: NOW,
      updatedAt: NOW,
      endedAt: null,
    },
    expectedVersion: 0,
    schedule: [
      {
        id: 'transfer:tr-1:expire',
        sagaName: 'transfer',
        correlationId: 'tr-1',
        name: 'expire',
        dueAt: LATER,
        payload: { reason: 'timeout' },
        attempts: 0,
        lastError: null,
      },
    ],
  });

  const manager = dataSource.manager;
  expect(await manager.find(entities.checkpoint)).toEqual([
    {
      name: 'projection:balances',
      position: '42',
      leaseOwner: 'runner-1',
      leaseUntil: new Date(NOW.getTime() + 1_000),
      lastError: 'parked',
      updatedAt: NOW,
    },
  ]);
  expect(await manager.find(entities.parkedEvent)).toEqual([
    {
      subscription: 'projection:balances',
      eventId: 'evt-1',
      streamId: 'wallet-1',
      version: 3,
      position: 5_000_000_001,
      type: 'wallet.credited',
      reason: 'failed',
      error: 'boom',
      attempts: 2,
      parkedAt: NOW,
      redriveRequestedAt: null,
    },
  ]);
  expect(await manager.find(entities.sagaState)).toEqual([
    {
      sagaName: 'transfer',
      correlationId: 'tr-1',
      state: { step: 'debited', amount: 12.5 },
      stateVersion: 2,
      version: 1,
      status: 'active',
      startedAt: NOW,
      updatedAt: NOW,
      endedAt: null,
    },
  ]);
  expect(await manager.find(entities.sagaDeadline)).toEqual([
    {
      id: 'transfer:tr-1:expire',
      sagaName: 'transfer',
      correlationId: 'tr-1',
      name: 'expire',
      dueAt: LATER,
      payload: { reason: 'timeout' },
      attempts: 0,
      lastError: null,
      leaseOwner: null,
      leaseUntil: null,
      firedAt: null,
      parkedAt: null,
      createdAt: NOW,
    },
  ]);
}

describe('Chronicle subscription and saga entities on SQLite', () => {
  it('map the checkpoint, parked event, saga state and saga deadline tables (custom prefix) for reading through TypeORM', async () => {
    const options: ChronicleEntityOptions = { type: 'better-sqlite3', tablePrefix: 'es_' };
    const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: createChronicleEntities(options).all });
    await dataSource.initialize();
    cleanups.push(() => dataSource.destroy());
    await readsBackThroughEntities(dataSource, options);
  });
});

await describePostgres('Chronicle subscription and saga entities on PostgreSQL', () => {
  it('map the checkpoint, parked event, saga state and saga deadline tables (custom schema) for reading through TypeORM', async () => {
    const schema = uniqueSchemaName('chr_ent');
    cleanups.push(await createSchema(schema));
    const options: ChronicleEntityOptions = { type: 'postgres', schema };
    const dataSource = new DataSource({ type: 'postgres', url: POSTGRES_URL, entities: createChronicleEntities(options).all });
    await dataSource.initialize();
    cleanups.push(() => dataSource.destroy());
    await readsBackThroughEntities(dataSource, options);
  });
});
