import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { DataSource, type Logger } from 'typeorm';
import {
  ConcurrencyError,
  DuplicateCommandError,
  type AppendRequest,
  type CommandRecord,
  type NewEvent,
  type StreamWrite,
  type UnitOfWorkParticipant,
} from '@chronicle/core';
import { DEFAULT_TABLE_PREFIX, PostgresNotificationListener, TypeOrmJournal, TypeOrmOutboxStore } from '@chronicle/typeorm';
import { keptPlans } from '../support/kept-plans.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** Every statement a DataSource sends, in order. */
class StatementLog implements Logger {
  readonly statements: string[] = [];
  logQuery(query: string): void {
    this.statements.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

function event(type: string, payload: unknown, tags: string[] = []): NewEvent {
  return { eventId: randomUUID(), type, schemaVersion: 1, payload, metadata: { correlationId: 'c-1' }, tags, occurredAt: new Date('2026-11-22T10:00:00.123Z') };
}

function write(streamId: string, expectedVersion: number, count = 1): StreamWrite {
  return {
    streamId,
    aggregateType: 'Ledger',
    expectedVersion,
    events: Array.from({ length: count }, (_, index) => event(index % 2 === 0 ? 'Deposited' : 'Withdrawn', { amount: index + 1, note: 'a "quoted" \\ value' }, ['t'])),
  };
}

function command(streamId: string, commandId: string = randomUUID()): CommandRecord {
  return { commandId, fingerprint: 'f', streamId, aggregateType: 'Ledger', outcome: { kind: 'accepted' } as never, recordedAt: new Date() };
}

/** Forces the transactional path: a participant that cannot write inside the one statement. */
const plainParticipant: UnitOfWorkParticipant = { participate: async () => undefined };

await describePostgres('TypeOrmJournal on PostgreSQL: a unit of work as one statement', () => {
  let database: TestDatabase;
  let schema: string;
  const opened: DataSource[] = [];

  beforeEach(async () => {
    database = await openPostgresSchema();
    schema = String(database.tables.schema);
  });

  afterEach(async () => {
    for (const dataSource of opened.splice(0)) await dataSource.destroy();
    await database.close();
  });

  const table = (name: string): string => `"${schema}"."${DEFAULT_TABLE_PREFIX}${name}"`;

  async function open(
    options: { logger?: Logger; outbox?: boolean; participant?: UnitOfWorkParticipant; poolSize?: number; preparedStatements?: boolean } = {},
  ) {
    const poolSize = options.poolSize ?? (options.logger ? 4 : 10);
    const dataSource = options.logger
      ? new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize, logging: ['query'], logger: options.logger })
      : new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize });
    await dataSource.initialize();
    opened.push(dataSource);
    const journal = new TypeOrmJournal(dataSource, {
      ...database.tables,
      ...(options.preparedStatements === undefined ? {} : { preparedStatements: options.preparedStatements }),
    });
    const store = new TypeOrmOutboxStore(dataSource, database.tables);
    if (options.outbox !== false) {
      await store.subscribe([{ handler: 'audit', events: '*', startFrom: 'now' }, { handler: 'deposits', events: ['Deposited'], startFrom: 'now' }]);
      journal.addParticipant(store);
    }
    if (options.participant) journal.addParticipant(options.participant);
    return { journal, store, dataSource };
  }

  async function rows(sql: string): Promise<Record<string, unknown>[]> {
    return (await database.dataSource.query(sql)) as Record<string, unknown>[];
  }

  /** What a unit stored, without the columns that differ between two writes of equal units. */
  async function stored(): Promise<unknown> {
    return {
      streams: await rows(`SELECT id, aggregate_type, version, deleted_up_to FROM ${table('streams')} ORDER BY id`),
      events: await rows(
        `SELECT stream_id, version, aggregate_type, type, schema_version, payload, metadata, tags, occurred_at FROM ${table('events')} ORDER BY position`,
      ),
      commands: await rows(`SELECT stream_id, aggregate_type, fingerprint, outcome FROM ${table('commands')} ORDER BY stream_id`),
      outbox: await rows(
        `SELECT handler, aggregate_type, aggregate_id, stream_id, version, event_type, schema_version, payload, metadata, occurred_at, attempts, ` +
          `published_at, lease_owner FROM ${table('outbox')} ORDER BY handler, stream_id, version`,
      ),
    };
  }

  async function count(name: string): Promise<number> {
    return Number((await rows(`SELECT count(*)::int AS n FROM ${table(name)}`))[0]!.n);
  }

  it('writes streams, events, command records and outbox entries in one round trip, without a transaction block', async () => {
    const log = new StatementLog();
    const { journal } = await open({ logger: log });
    await journal.append({ writes: [write('s-1', 0, 2), write('s-2', 0, 1)] });
    log.statements.length = 0;

    const result = await journal.append({ writes: [write('s-2', 1, 3), write('s-1', 2, 1), write('s-3', 0, 2)], commands: [command('s-1'), command('s-3')] });

    expect(log.statements).toHaveLength(1);
    expect(log.statements[0]).toMatch(/^WITH input AS/);
    expect(log.statements.some((statement) => /START TRANSACTION|BEGIN|COMMIT/i.test(statement))).toBe(false);
    // Positions ascend in the order the transactional path gives: stream id, then version.
    const positions = [...result.streams].sort((a, b) => a.streamId.localeCompare(b.streamId)).flatMap((stream) => stream.events.map((e) => e.position));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(new Set(positions).size).toBe(6);
    expect(result.cursor).toBe(result.streams.flatMap((s) => s.events).find((e) => e.position === Math.max(...positions))!.cursor);
    expect(await journal.streamVersion('s-2')).toBe(4);
    expect(await journal.readStream('s-3')).toEqual(result.streams[2]!.events);
    expect(await count('commands')).toBe(2);
    // "audit" takes every event, "deposits" only Deposited ones: 9 + 6 entries for the 9 events.
    expect(await count('outbox')).toBe(9 + 6);
  });

  it('prepares the statement once per connection, and sends it unprepared when told to', async () => {
    const prepared = `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'chronicle\\_%'`;
    const byDefault = await open({ poolSize: 1 });
    for (let round = 0; round < 3; round++) await byDefault.journal.append({ writes: [write(`p-${round}`, 0, 1)] });
    // One connection, one shape of unit (one stream, no command): one statement, prepared once.
    expect(((await byDefault.dataSource.query(prepared)) as Array<{ n: number }>)[0]!.n).toBe(1);

    const unprepared = await open({ poolSize: 1, preparedStatements: false });
    await unprepared.journal.append({ writes: [write('u-1', 0, 1)] });
    expect(((await unprepared.dataSource.query(prepared)) as Array<{ n: number }>)[0]!.n).toBe(0);
    expect(await unprepared.journal.streamVersion('u-1')).toBe(1);
  });

  it('finds the streams it updates by key, with a plan made while the streams table was small', async () => {
    // One connection: the statement prepared on it is the one every append runs, and the plan it
    // keeps is the one EXPLAIN shows there. No ANALYZE may rebuild that plan mid-test (autovacuum's
    // of either table the statement reads would).
    const { journal, dataSource } = await open({ poolSize: 1, outbox: false });
    for (const name of ['streams', 'events']) await dataSource.query(`ALTER TABLE ${table(name)} SET (autovacuum_enabled = off)`);
    // The statement's generic plan is made after its first executions, on a table of one stream...
    for (let version = 0; version < 10; version++) await journal.append({ writes: [write('small', version, 1)] });
    // ...and kept while the table grows to 2,001 streams.
    for (let batch = 0; batch < 20; batch++) {
      await journal.append({ writes: Array.from({ length: 100 }, (_, k) => write(`grown-${batch}-${String(k).padStart(3, '0')}`, 0, 1)) });
    }
    for (let version = 10; version < 15; version++) await journal.append({ writes: [write('small', version, 1)] });
    // The plans the connection kept, one per shape of unit.
    const plans = await keptPlans(dataSource, 'chronicle\\_%', 'UPDATE');
    expect(plans.length).toBeGreaterThan(0);
    for (const plan of plans) {
      expect(plan).toMatch(/Update on chronicle_streams/);
      expect(plan).not.toMatch(/Seq Scan on chronicle_streams/);
    }
    expect(await journal.streamVersion('small')).toBe(15);
  });

  it('notifies the journal channel once for a unit that wrote events, and not for one that lost', async () => {
    const { journal, dataSource } = await open({ outbox: false });
    const channel = `${schema}.feed`;
    journal.enableNotifications(channel);
    const received: string[] = [];
    const listener = new PostgresNotificationListener(dataSource, {
      channel,
      onNotification: (payload) => received.push(payload),
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await listener.start();
    try {
      await journal.append({ writes: [write('n-1', 0, 2), write('n-2', 0, 1)] });
      const stale = journal.append({ writes: [write('n-1', 0, 1)] });
      await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
      const until = Date.now() + 2_000;
      while (received.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(received).toEqual(['']);
    } finally {
      await listener.stop();
    }
  });

  it('stores exactly what the transactional path stores', async () => {
    const fast = await open();
    const units: AppendRequest[] = [
      { writes: [write('a', 0, 3), write('b', 0, 1)], commands: [command('a', 'cmd-1')] },
      { writes: [write('b', 1, 2), write('a', 3, 1)], commands: [command('b', 'cmd-2'), command('a', 'cmd-3')] },
    ];
    for (const unit of units) await fast.journal.append(unit);
    const viaOneStatement = await stored();

    await rows(`TRUNCATE ${table('streams')}, ${table('events')}, ${table('commands')}, ${table('outbox')}`);
    const slow = await open({ participant: plainParticipant });
    for (const unit of units) await slow.journal.append(unit);
    const viaTransaction = await stored();

    expect(viaOneStatement).toEqual(viaTransaction);
    // 7 events for "audit", the 5 Deposited ones for "deposits".
    expect((viaOneStatement as { outbox: unknown[] }).outbox).toHaveLength(7 + 5);
  });

  it('writes nothing when one write of the unit is stale, and names the stale stream and its version', async () => {
    const { journal } = await open();
    await journal.append({ writes: [write('kept', 0, 2)] });
    const before = await stored();

    const failure = await journal
      .append({ writes: [write('fresh', 0, 1), write('kept', 1, 1)], commands: [command('fresh')] })
      .then(() => undefined, (error: unknown) => error);

    expect(failure).toBeInstanceOf(ConcurrencyError);
    expect(failure).toMatchObject({ streamId: 'kept', expectedVersion: 1, actualVersion: 2 });
    expect(await stored()).toEqual(before);
    expect(await journal.streamInfo('fresh')).toBeUndefined();

    // Ahead of the stream: no stored version collides, only the check under the lock stops it.
    const ahead = await journal.append({ writes: [write('kept', 5, 1)] }).then(() => undefined, (error: unknown) => error);
    expect(ahead).toMatchObject({ streamId: 'kept', expectedVersion: 5, actualVersion: 2 });
    // Expected to be new, but the stream exists.
    const exists = await journal.append({ writes: [write('kept', 0, 1)] }).then(() => undefined, (error: unknown) => error);
    expect(exists).toMatchObject({ streamId: 'kept', expectedVersion: 0, actualVersion: 2 });
    expect(await stored()).toEqual(before);
  });

  it('lets exactly one of many concurrent units at one version win, across two pools, round after round', async () => {
    const first = await open();
    const second = await open();
    await first.journal.append({ writes: [write('race', 0, 1)] });
    for (let round = 1; round <= 10; round++) {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, index) => (index % 2 === 0 ? first : second).journal.append({ writes: [write('race', round, 1)] })),
      );
      const losses = outcomes.filter((outcome) => outcome.status === 'rejected');
      expect(outcomes.length - losses.length).toBe(1);
      for (const loss of losses) expect((loss as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    }
    const versions = (await first.journal.readStream('race')).map((e) => e.version);
    expect(versions).toEqual(Array.from({ length: 11 }, (_, index) => index + 1));
    // One outbox entry per stored event and handler that takes it: losers left none behind.
    expect(await count('outbox')).toBe(11 + 11);
  });

  it('never deadlocks when units on two pools write overlapping streams in opposite orders', async () => {
    const first = await open();
    const second = await open();
    const ids = ['x-1', 'x-2', 'x-3', 'x-4'];
    for (let round = 0; round < 15; round++) {
      const versions = await Promise.all(ids.map((id) => first.journal.streamVersion(id)));
      const forward = ids.map((id, index) => write(id, versions[index]!, 1));
      const outcomes = await Promise.allSettled([
        first.journal.append({ writes: forward }),
        second.journal.append({ writes: [...forward].reverse().map((w) => write(w.streamId, w.expectedVersion, 1)) }),
        first.journal.append({ writes: [write('x-2', versions[1]!, 1), write('x-4', versions[3]!, 1)] }),
      ]);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ConcurrencyError);
      }
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    }
    for (const id of ids) {
      const versions = (await first.journal.readStream(id)).map((e) => e.version);
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, index) => index + 1));
    }
  });

  it('lets one of two pools create a new stream; the other gets a ConcurrencyError and writes nothing', async () => {
    const first = await open();
    const second = await open();
    for (let round = 0; round < 10; round++) {
      const streamId = `new-${round}`;
      const outcomes = await Promise.allSettled([
        first.journal.append({ writes: [write(streamId, 0, 2)], commands: [command(streamId)] }),
        second.journal.append({ writes: [write(streamId, 0, 3)], commands: [command(streamId)] }),
      ]);
      const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(ConcurrencyError);
      expect(lost.reason).toMatchObject({ streamId, expectedVersion: 0 });
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<TypeOrmJournal['append']>>>).value;
      expect(await first.journal.readStream(streamId)).toEqual(winner.streams[0]!.events);
    }
    expect(await count('commands')).toBe(10);
  });

  it('fails only the unit whose command id another unit recorded concurrently', async () => {
    const first = await open();
    const second = await open();
    for (let round = 0; round < 10; round++) {
      const commandId = `shared-${round}`;
      const outcomes = await Promise.allSettled([
        first.journal.append({ writes: [write(`left-${round}`, 0, 1)], commands: [command(`left-${round}`, commandId)] }),
        second.journal.append({ writes: [write(`right-${round}`, 0, 1)], commands: [command(`right-${round}`, commandId)] }),
      ]);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      const lost = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(DuplicateCommandError);
      const loser = outcomes[0]!.status === 'rejected' ? `left-${round}` : `right-${round}`;
      expect(await first.journal.streamInfo(loser)).toBeUndefined();
    }
    expect(await count('events')).toBe(10);
  });

  it('falls back to the transaction when an outbox entry of the unit exists already, and keeps that entry', async () => {
    const { journal } = await open();
    const unit: AppendRequest = { writes: [write('pre', 0, 1)] };
    const eventId = unit.writes[0]!.events[0]!.eventId;
    // As a backfill racing the append would have: the "audit" entry for the event is there first.
    await rows(
      `INSERT INTO ${table('outbox')} (id, handler, aggregate_type, aggregate_id, stream_id, version, event_id, event_type, schema_version, ` +
        `payload, metadata, occurred_at, next_attempt_at, created_at) VALUES ('${randomUUID()}', 'audit', 'Ledger', 'pre', 'pre', 1, ` +
        `'${eventId}', 'Deposited', 1, '{"from":"backfill"}', '{}', now(), now(), now())`,
    );

    await journal.append(unit);

    const entries = await rows(`SELECT handler, payload FROM ${table('outbox')} WHERE event_id = '${eventId}' ORDER BY handler`);
    expect(entries).toEqual([
      { handler: 'audit', payload: { from: 'backfill' } },
      { handler: 'deposits', payload: unit.writes[0]!.events[0]!.payload },
    ]);
    expect(await journal.streamVersion('pre')).toBe(1);
  });
});
