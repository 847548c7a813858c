import { afterEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import type { NewEvent } from '@chronicle/core';
import {
  createChronicleEntities,
  runChronicleMigrations,
  TypeOrmCheckpointStore,
  TypeOrmInbox,
  TypeOrmJournal,
  TypeOrmKeyStore,
  TypeOrmOutboxStore,
  TypeOrmSagaStore,
  TypeOrmSnapshotStore,
  type ChronicleEntityOptions,
} from '@chronicle/typeorm';
import { createSchema, describePostgres, POSTGRES_URL, uniqueSchemaName } from '../support/services.js';

const OCCURRED_AT = new Date(Date.UTC(2024, 2, 3, 4, 5, 6, 789));
const EVENT: NewEvent = {
  eventId: 'evt-1',
  type: 'entity.read',
  schemaVersion: 2,
  payload: { amount: 12.5, note: 'ü "q"' },
  metadata: { correlationId: 'corr-1' },
  tags: ['tenant:a', 'vip'],
  occurredAt: OCCURRED_AT,
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Appends through the journal, then reads every table back through the TypeORM entities. */
async function readsBackThroughEntities(dataSource: DataSource, options: ChronicleEntityOptions): Promise<void> {
  const entities = createChronicleEntities(options);
  const tables = { ...(options.schema === undefined ? {} : { schema: options.schema }), ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }) };
  await runChronicleMigrations(dataSource, tables);
  const journal = new TypeOrmJournal(dataSource, tables);
  const clock = { now: () => OCCURRED_AT };
  const outbox = new TypeOrmOutboxStore(dataSource, { ...tables, clock });
  journal.addParticipant(outbox);
  await outbox.subscribe([{ handler: 'relay', events: '*', startFrom: 'now' }]);
  const appended = await journal.append({
    writes: [{ streamId: 'acc-1', aggregateType: 'account', expectedVersion: 0, events: [EVENT] }],
    commands: [
      {
        commandId: 'cmd-1',
        fingerprint: 'fp',
        streamId: 'acc-1',
        aggregateType: 'account',
        outcome: { kind: 'accepted', fromVersion: 1, toVersion: 1 },
        recordedAt: OCCURRED_AT,
      },
    ],
  });
  await new TypeOrmSnapshotStore(dataSource, tables).save(
    { streamId: 'acc-1', aggregateType: 'account', version: 1, schemaVersion: 1, state: { balance: 12.5 }, takenAt: OCCURRED_AT },
    2,
  );

  const manager = dataSource.manager;
  expect(await manager.find(entities.event)).toEqual([
    {
      position: appended.streams[0]?.events[0]?.position,
      streamId: 'acc-1',
      version: 1,
      aggregateType: 'account',
      eventId: 'evt-1',
      type: 'entity.read',
      schemaVersion: 2,
      payload: EVENT.payload,
      metadata: EVENT.metadata,
      tags: EVENT.tags,
      occurredAt: OCCURRED_AT,
    },
  ]);
  expect(await manager.findOneBy(entities.stream, { id: 'acc-1' })).toMatchObject({
    id: 'acc-1',
    aggregateType: 'account',
    version: 1,
    deletedUpTo: 0,
    createdAt: expect.any(Date),
  });
  expect(await manager.find(entities.command)).toEqual([
    {
      commandId: 'cmd-1',
      fingerprint: 'fp',
      streamId: 'acc-1',
      aggregateType: 'account',
      outcome: { kind: 'accepted', fromVersion: 1, toVersion: 1 },
      recordedAt: OCCURRED_AT,
    },
  ]);
  expect(await manager.find(entities.snapshot)).toEqual([
    { streamId: 'acc-1', version: 1, aggregateType: 'account', schemaVersion: 1, state: { balance: 12.5 }, takenAt: OCCURRED_AT },
  ]);
  const [claimed] = await outbox.claim('relay', 'owner-1', { limit: 10, leaseMs: 1_000 });
  expect(await manager.find(entities.outbox)).toEqual([
    {
      id: claimed?.id,
      handler: 'relay',
      aggregateType: 'account',
      aggregateId: 'acc-1',
      streamId: 'acc-1',
      version: 1,
      eventId: 'evt-1',
      eventType: 'entity.read',
      schemaVersion: 2,
      payload: EVENT.payload,
      metadata: EVENT.metadata,
      occurredAt: OCCURRED_AT,
      attempts: 0,
      nextAttemptAt: OCCURRED_AT,
      lastError: null,
      leaseOwner: 'owner-1',
      leaseUntil: new Date(OCCURRED_AT.getTime() + 1_000),
      publishedAt: null,
      deadLetteredAt: null,
      createdAt: OCCURRED_AT,
    },
  ]);
  expect(await manager.find(entities.outboxHandler)).toEqual([
    { handler: 'relay', startFrom: 'now', backfillCursor: null, readyAt: OCCURRED_AT, registeredAt: OCCURRED_AT },
  ]);
  await new TypeOrmInbox(dataSource, { ...tables, clock }).process('consumer-1', 'msg-1', async () => undefined);
  expect(await manager.find(entities.inbox)).toEqual([{ consumer: 'consumer-1', messageId: 'msg-1', processedAt: OCCURRED_AT }]);
}

const PARKED = {
  subscription: 'projection:balances',
  eventId: 'evt-1',
  streamId: 'wallet-1',
  version: 3,
  position: 5_000_000_001,
  type: 'wallet.credited',
  reason: 'failed' as const,
  error: 'boom',
  attempts: 2,
  parkedAt: OCCURRED_AT,
  redriveRequestedAt: null,
};

const SAGA_INSTANCE = {
  sagaName: 'transfer',
  correlationId: 'tr-1',
  state: { step: 'debited', amount: 12.5 },
  stateVersion: 2,
  version: 1,
  status: 'active' as const,
  startedAt: OCCURRED_AT,
  updatedAt: OCCURRED_AT,
  endedAt: null,
};

const DEADLINE = {
  id: 'transfer:tr-1:expire',
  sagaName: 'transfer',
  correlationId: 'tr-1',
  name: 'expire',
  dueAt: new Date(OCCURRED_AT.getTime() + 60_000),
  payload: { reason: 'timeout' },
  attempts: 0,
  lastError: null,
};

/** Writes through the checkpoint and saga stores (on migrated tables), then reads their tables back through the entities. */
async function readsSubscriptionTablesBack(dataSource: DataSource, options: ChronicleEntityOptions): Promise<void> {
  const entities = createChronicleEntities(options);
  const tables = { ...(options.schema === undefined ? {} : { schema: options.schema }), ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }) };
  const clock = { now: () => OCCURRED_AT };
  const checkpoints = new TypeOrmCheckpointStore(dataSource, { ...tables, clock });
  const sagas = new TypeOrmSagaStore(dataSource, { ...tables, clock });

  await checkpoints.acquire('projection:balances', 'runner-1', 1_000);
  await checkpoints.advance({
    name: 'projection:balances',
    owner: 'runner-1',
    from: null,
    to: '42',
    lastError: 'parked',
    park: [PARKED],
  });
  await sagas.save({
    instance: SAGA_INSTANCE,
    expectedVersion: 0,
    schedule: [DEADLINE],
  });

  const manager = dataSource.manager;
  expect(await manager.find(entities.checkpoint)).toEqual([
    {
      name: 'projection:balances',
      position: '42',
      leaseOwner: 'runner-1',
      leaseUntil: new Date(OCCURRED_AT.getTime() + 1_000),
      lastError: 'parked',
      updatedAt: OCCURRED_AT,
    },
  ]);
  expect(await manager.find(entities.parkedEvent)).toEqual([PARKED]);
  expect(await manager.find(entities.sagaState)).toEqual([SAGA_INSTANCE]);
  expect(await manager.find(entities.sagaDeadline)).toEqual([
    {
      ...DEADLINE,
      leaseOwner: null,
      leaseUntil: null,
      firedAt: null,
      parkedAt: null,
      createdAt: OCCURRED_AT,
    },
  ]);
  const keys = new TypeOrmKeyStore(dataSource, { ...tables, masterKeys: { current: { id: 'm1', key: Buffer.alloc(32, 5).toString('base64') } } });
  const kept = await keys.keyFor('subject-kept');
  await keys.keyFor('subject-gone');
  await keys.forget('subject-gone');
  const rows = await manager.find(entities.dataKey, { order: { subject: 'ASC' } });
  expect(rows).toEqual([
    { subject: 'subject-gone', keyId: expect.any(String), masterKeyId: null, wrappedKey: null, createdAt: expect.any(Date), forgottenAt: expect.any(Date) },
    { subject: 'subject-kept', keyId: kept.keyId, masterKeyId: 'm1', wrappedKey: expect.any(String), createdAt: expect.any(Date), forgottenAt: null },
  ]);
}

describe('Chronicle entities on SQLite', () => {
  it('map every table (journal, commands, snapshots, outbox, inbox, checkpoints, parked events, sagas, data keys; custom prefix) for reading through TypeORM', async () => {
    const options: ChronicleEntityOptions = { type: 'better-sqlite3', tablePrefix: 'es_' };
    const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: createChronicleEntities(options).all });
    await dataSource.initialize();
    cleanups.push(() => dataSource.destroy());
    await readsBackThroughEntities(dataSource, options);
    await readsSubscriptionTablesBack(dataSource, options);
  });
});

await describePostgres('Chronicle entities on PostgreSQL', () => {
  it('map every table (journal, commands, snapshots, outbox, inbox, checkpoints, parked events, sagas, data keys; custom schema) for reading through TypeORM', async () => {
    const schema = uniqueSchemaName('chr_ent');
    cleanups.push(await createSchema(schema));
    const options: ChronicleEntityOptions = { type: 'postgres', schema };
    const dataSource = new DataSource({ type: 'postgres', url: POSTGRES_URL, entities: createChronicleEntities(options).all });
    await dataSource.initialize();
    cleanups.push(() => dataSource.destroy());
    await readsBackThroughEntities(dataSource, options);
    await readsSubscriptionTablesBack(dataSource, options);
  });
});
