import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AppendConditionConflictError, type AppendRequest, type EventQuery, type NewEvent } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { postgresLiteral } from '../../libs/typeorm/src/journal/postgres-inline-parameters.js';
import { PIPELINE_LOG_PREFIX } from '../../libs/typeorm/src/journal/postgres-pipelined-append.js';
import { driverErrorOf } from '../../libs/typeorm/src/dialects/driver-error.js';
import { watchDataSourceLog, type DataSourceLogWatch } from '../support/data-source-log-watch.js';
import { keptPlans } from '../support/kept-plans.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** Strings meant to break out of a literal, an array literal or a placeholder. */
const HOSTILE = [
  "'",
  "''; DROP TABLE chronicle_events; --",
  '\\',
  "\\'; SELECT 1; --",
  '$1',
  '$$ $tag$ $1::text',
  '"',
  '{"a","b"}',
  'a,b}',
  'NULL',
  'E\'\\x00\'',
  '\n\r\t',
  'ünïcödé ✓ 𝄞',
  '',
];

function conditional(query: EventQuery, after: string | null, streamId: string, event: NewEvent): AppendRequest {
  return { writes: [{ streamId, aggregateType: 'a', expectedVersion: 0, events: [event] }], condition: { failIfEventsMatch: query, after } };
}

/**
 * Sessions of `pool`'s connections left inside a transaction (an aborted one never ROLLed BACK
 * would be one). Only that pool's: other test files share the database and may be inside
 * transactions of their own at that moment. The pids come from pg's pool (its `_clients`).
 */
async function sessionsInTransaction(observer: DataSource, pool: DataSource): Promise<number> {
  const clients = ((pool.driver as unknown as { master: { _clients?: Array<{ processID?: number }> } }).master._clients ?? []);
  const pids = clients.map((client) => client.processID).filter((pid): pid is number => typeof pid === 'number');
  expect(pids.length).toBeGreaterThan(0);
  const [row] = (await observer.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid = ANY($1::int[])",
    [pids],
  )) as Array<{ n: number }>;
  return row?.n ?? 0;
}

await describePostgres('PostgreSQL: the one-round-trip conditional append writes values as literals, safely', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  it('reads every hostile string back from its literal unchanged, alone and in an array', async () => {
    for (const text of HOSTILE) {
      const [scalar] = (await database.dataSource.query(`SELECT ${postgresLiteral(text)}::text AS v`)) as Array<{ v: string }>;
      expect(scalar?.v).toBe(text);
    }
    const [array] = (await database.dataSource.query(`SELECT ${postgresLiteral(HOSTILE)}::text[] AS v`)) as Array<{ v: string[] }>;
    expect(array?.v).toEqual(HOSTILE);
    const [date] = (await database.dataSource.query(`SELECT ${postgresLiteral(new Date('2026-12-07T01:02:03.004Z'))} AS v`)) as Array<{ v: Date }>;
    expect(date?.v.toISOString()).toBe('2026-12-07T01:02:03.004Z');
  });

  it('appends events whose stream id, type, tags and payload are hostile strings, and stores them as given (pipelined, bound parameters)', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const log = watchDataSourceLog(database.dataSource);
    for (const [index, text] of HOSTILE.entries()) {
      // A tag is never empty: the empty string is carried by the prefixed one only.
      const tags = text === '' ? [`t:${text}`] : [`t:${text}`, text];
      const event: NewEvent = { eventId: randomUUID(), type: `type${text}`, schemaVersion: 1, payload: { text, [text]: [text] }, metadata: { text }, tags, occurredAt: new Date() };
      const query: EventQuery = [{ types: [event.type], tags }];
      const { next } = await journal.readByQuery(query);
      await journal.append(conditional(query, next, `s${index}${text}`, event));
      const read = await journal.readByQuery(query);
      expect(read.events).toHaveLength(1);
      expect(read.events[0]).toMatchObject({ streamId: `s${index}${text}`, type: event.type, payload: event.payload, metadata: { text }, tags });
      // The condition names the hostile tag too: a second decision on the first read conflicts.
      await expect(journal.append(conditional(query, next, `t${index}${text}`, { ...event, eventId: randomUUID() }))).rejects.toBeInstanceOf(
        AppendConditionConflictError,
      );
    }
    expect((await journal.readByQuery([{}])).events).toHaveLength(HOSTILE.length);
    // Every decision had a cursor (a read's, past an empty result too): all went through the pipeline.
    expect(log.pipelined()).toBe(2 * HOSTILE.length);
  });

  it('refuses a NUL in a stream id as a plain append does (bound parameters), and writes nothing', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const event = (): NewEvent => ({ eventId: randomUUID(), type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: ['nul'], occurredAt: new Date() });
    const plain = await journal
      .append({ writes: [{ streamId: 'a\0b', aggregateType: 'a', expectedVersion: 0, events: [event()] }] })
      .then(() => undefined, (error: unknown) => error);
    const decided = await journal.append(conditional([{ tags: ['nul'] }], null, 'a\0b', event())).then(() => undefined, (error: unknown) => error);
    expect(plain).toBeDefined();
    expect(driverErrorOf(decided)?.code).toBe(driverErrorOf(plain)?.code);
    expect((await journal.readByQuery([{}])).events).toHaveLength(0);
  });

  it('ends the transaction when the string fails midway (a NUL escape jsonb refuses), so the connection serves the next unit', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const observer = await database.openAnother();
    const failing: NewEvent = { eventId: randomUUID(), type: 'x', schemaVersion: 1, payload: { text: 'a\0b' }, metadata: {}, tags: ['mid'], occurredAt: new Date() };
    // The probe sees a connection of the pool left inside a transaction (so the check below can fail).
    const runner = database.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await runner.query('SELECT 1');
    expect(await sessionsInTransaction(observer, database.dataSource)).toBe(1);
    await runner.rollbackTransaction();
    await runner.release();
    const error = await journal.append(conditional([{ tags: ['mid'] }], null, 'mid-1', failing)).then(() => undefined, (e: unknown) => e);
    expect(driverErrorOf(error)?.code).toBe('22P05');
    expect(await sessionsInTransaction(observer, database.dataSource)).toBe(0);
    // With a read's cursor the unit goes as a pipeline: the error ends its implicit transaction at the Sync.
    const { next: read } = await journal.readByQuery([{ tags: ['mid'] }]);
    const piped = await journal.append(conditional([{ tags: ['mid'] }], read, 'mid-2', { ...failing, eventId: randomUUID() })).then(() => undefined, (e: unknown) => e);
    expect(driverErrorOf(piped)?.code).toBe('22P05');
    expect(await sessionsInTransaction(observer, database.dataSource)).toBe(0);
    // The pool hands the same connection out again: it must not be left in the aborted transaction.
    for (let i = 0; i < 5; i++) {
      const { next } = await journal.readByQuery([{ tags: [`after:${i}`] }]);
      const ok: NewEvent = { eventId: randomUUID(), type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: [`after:${i}`], occurredAt: new Date() };
      await journal.append(conditional([{ tags: [`after:${i}`] }], next, `after-${i}`, ok));
    }
    expect((await journal.readByQuery([{}])).events).toHaveLength(5);
  });

  it('prepares the append once per connection, and prepares it again on a connection that lost it (DEALLOCATE ALL, DISCARD ALL)', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const event = (tag: string): NewEvent => ({ eventId: randomUUID(), type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: [tag], occurredAt: new Date() });
    await journal.append(conditional([{ tags: ['p:0'] }], null, 'p-0', event('p:0')));
    // The pool hands out the connection released last: the one the append prepared its statement on.
    const runner = database.dataSource.createQueryRunner();
    try {
      const [before] = (await runner.query("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'chronicle_cond_%'")) as Array<{ n: number }>;
      expect(before?.n).toBe(1);
      await runner.query('DEALLOCATE ALL');
    } finally {
      await runner.release();
    }
    const { next } = await journal.readByQuery([{ tags: ['p:1'] }]);
    await journal.append(conditional([{ tags: ['p:1'] }], next, 'p-1', event('p:1')));
    await expect(journal.append(conditional([{ tags: ['p:1'] }], next, 'p-2', event('p:1')))).rejects.toBeInstanceOf(AppendConditionConflictError);
    expect((await journal.readByQuery([{ tags: ['p:1'] }])).events.map((e) => e.streamId)).toEqual(['p-1']);
  });

  /**
   * As a pooler in transaction mode would: `lands(query)` says which logged queries reach a session
   * without the statements earlier ones prepared (DEALLOCATE ALL is queued just before each). Three
   * decisions on `query`: one commits, one on the same read is refused, one on the first's cursor
   * commits. Answers what was logged (the landing queries, the log watch).
   */
  async function decideBehindPooler(query: EventQuery, lands: (logged: string) => boolean): Promise<{ sent: string[]; log: DataSourceLogWatch }> {
    const dataSource = await database.openAnother();
    const sent: string[] = [];
    const log = watchDataSourceLog(dataSource, (logged, runner) => {
      if (!lands(logged)) return;
      sent.push(logged);
      const client = (runner as unknown as { databaseConnection?: { query(text: string): Promise<unknown> } } | undefined)?.databaseConnection;
      void client?.query('DEALLOCATE ALL').catch(() => undefined);
    });
    const journal = new TypeOrmJournal(dataSource, database.tables);
    const event = (): NewEvent => ({ eventId: randomUUID(), type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: ['pool'], occurredAt: new Date() });
    const { next } = await journal.readByQuery(query);
    const first = await journal.append(conditional(query, next, 'pool-1', event()));
    await expect(journal.append(conditional(query, next, 'pool-2', event()))).rejects.toBeInstanceOf(AppendConditionConflictError);
    await journal.append(conditional(query, first.cursor!, 'pool-3', event()));
    expect((await journal.readByQuery(query)).events.map((e) => e.streamId)).toEqual(['pool-1', 'pool-3']);
    return { sent, log };
  }

  it('pipeline: a session that loses its statements before every pipeline (a transaction-mode pooler) has them Parsed again in the next one, and no warning', async () => {
    const { sent, log } = await decideBehindPooler([{ tags: ['pool'] }], (logged) => logged.startsWith(PIPELINE_LOG_PREFIX));
    // The first pipeline Parses its statements; each later one finds them gone and is sent again with its Parses.
    expect(sent.length).toBeGreaterThanOrEqual(5);
    expect(log.warnings).toEqual([]);
  });

  it('pipeline: after a first pipeline that failed past its Parses, a decision of another shape on the same connection still goes as a pipeline, without a warning', async () => {
    // One connection: the failed pipeline's statements are on the session the next one uses.
    const dataSource = await database.openAnother({ poolSize: 1 });
    const log = watchDataSourceLog(dataSource);
    const journal = new TypeOrmJournal(dataSource, database.tables);
    const event = (payload: Record<string, unknown>): NewEvent => ({ eventId: randomUUID(), type: 'x', schemaVersion: 1, payload, metadata: {}, tags: ['shape'], occurredAt: new Date() });
    const { next } = await journal.readByQuery([{ tags: ['shape'] }]);
    // jsonb refuses the NUL escape in the append's Bind: both statements were Parsed, then the error.
    const failed = await journal.append(conditional([{ tags: ['shape'] }], next, 'shape-0', event({ text: 'a\0b' }))).then(() => undefined, (e: unknown) => e);
    expect(driverErrorOf(failed)?.code).toBe('22P05');
    // Another query shape (two items): another append statement, the lock statement again.
    const twoItems: EventQuery = [{ types: ['x'], tags: ['shape'] }, { tags: ['other-shape'] }];
    const { next: again } = await journal.readByQuery(twoItems);
    await journal.append(conditional(twoItems, again, 'shape-1', event({})));
    const { next: third } = await journal.readByQuery([{ tags: ['elsewhere'] }]);
    await journal.append(conditional([{ tags: ['elsewhere'] }], third, 'shape-2', { ...event({}), tags: ['elsewhere'] }));
    expect((await journal.readByQuery([{}])).events.map((e) => e.streamId)).toEqual(['shape-1', 'shape-2']);
    expect(log.warnings).toEqual([]);
    expect(log.pipelined()).toBe(3);
  });

  it('query string (a type-only query, not pipelined): falls back to the literal statement when the session loses the prepared one twice in a row (a transaction-mode pooler), and warns once', async () => {
    const { sent, log } = await decideBehindPooler([{ types: ['x'] }], (logged) => logged.startsWith('BEGIN ISOLATION LEVEL READ COMMITTED') && logged.includes('EXECUTE chronicle_cond_'));
    // Two prepared attempts, then literal statements only.
    expect(sent).toHaveLength(2);
    expect(log.pipelined()).toBe(0);
    expect(log.warnings.filter((message) => message.includes('lost their prepared statement'))).toHaveLength(1);
  });

  it('finds a match far after the cursor, among other events, for tag, type-only and match-all queries, with and without prepared statements', async () => {
    const event = (type: string, tags: string[]): NewEvent => ({ eventId: randomUUID(), type, schemaVersion: 1, payload: {}, metadata: {}, tags, occurredAt: new Date() });
    for (const preparedStatements of [true, false]) {
      const journal = new TypeOrmJournal(database.dataSource, { ...database.tables, preparedStatements });
      const run = String(preparedStatements);
      const queries: Array<[string, EventQuery]> = [
        ['tag', [{ types: ['far'], tags: [`far:${run}`] }]],
        ['type', [{ types: [`far-type-${run}`] }]],
        ['all', [{}]],
      ];
      for (const [label, query] of queries) {
        const { next } = await journal.readByQuery([{ tags: [`far:${run}:${label}:nothing`] }]);
        // More events after the cursor than a check reads in order (100), the match among them.
        const others = (): NewEvent[] => Array.from({ length: 150 }, () => event('other', [`${run}:${label}:other`]));
        await journal.append({ writes: [{ streamId: `${run}-${label}-a`, aggregateType: 'a', expectedVersion: 0, events: others() }] });
        const matching = label === 'type' ? event(`far-type-${run}`, []) : event('far', [`far:${run}`]);
        await journal.append({ writes: [{ streamId: `${run}-${label}-match`, aggregateType: 'a', expectedVersion: 0, events: [matching] }] });
        await journal.append({ writes: [{ streamId: `${run}-${label}-b`, aggregateType: 'a', expectedVersion: 0, events: others() }] });
        await expect(journal.append(conditional(query, next, `${run}-${label}-late`, event('late', [])))).rejects.toBeInstanceOf(AppendConditionConflictError);
        if (label !== 'all') {
          // Nothing matching after the same cursor: the check passes past the ordered read too.
          const none: EventQuery = label === 'type' ? [{ types: [`none-${run}`] }] : [{ tags: [`none:${run}`] }];
          await journal.append(conditional(none, next, `${run}-${label}-none`, event('late', [])));
        }
        // From the start (no cursor): the match is found; an unmatched query passes.
        await expect(journal.append(conditional(query, null, `${run}-${label}-null`, event('late', [])))).rejects.toBeInstanceOf(AppendConditionConflictError);
        await journal.append(conditional([{ tags: [`never:${run}:${label}`] }], null, `${run}-${label}-never`, event('late', [])));
      }
    }
  });

  it('never scans a table: the generic plan a connection builds while the journal is small still reads by index once it has grown', async () => {
    // One connection: the statement prepared on it is the one every append runs, and the plan it
    // keeps is the one EXPLAIN shows there.
    const dataSource = await database.openAnother({ poolSize: 1 });
    const { schema } = database.tables;
    // No ANALYZE may rebuild the plan mid-test (autovacuum's would, on a busy machine).
    for (const table of ['chronicle_events', 'chronicle_streams']) await dataSource.query(`ALTER TABLE "${schema}"."${table}" SET (autovacuum_enabled = off)`);
    const journal = new TypeOrmJournal(dataSource, database.tables);
    const event = (tag: string): NewEvent => ({ eventId: randomUUID(), type: 'seat', schemaVersion: 1, payload: {}, metadata: {}, tags: [tag], occurredAt: new Date() });
    let cursor = (await journal.append({ writes: [{ streamId: 'grow', aggregateType: 'a', expectedVersion: 0, events: [event('grow')] }] })).cursor!;
    const decide = async (version: number): Promise<void> => {
      const request = conditional([{ types: ['seat'], tags: ['grow'] }], cursor, 'grow', event('grow'));
      cursor = (await journal.append({ ...request, writes: [{ ...request.writes[0]!, expectedVersion: version }] })).cursor!;
    };
    // The decision's statement is prepared and first run (its generic plan built) on a journal of
    // one event; then the journal grows under it, as a new deployment's does before its first ANALYZE.
    await decide(1);
    for (let i = 0; i < 20; i++) {
      await journal.append({ writes: [{ streamId: `bulk-${i}`, aggregateType: 'a', expectedVersion: 0, events: Array.from({ length: 100 }, () => event(`bulk:${i}`)) }] });
    }
    for (let version = 2; version <= 6; version++) await decide(version);
    expect((await journal.readByQuery([{ tags: ['grow'] }])).events).toHaveLength(7);
    // The plan the connection kept for the decision's statement.
    const plans = await keptPlans(dataSource, 'chronicle\\_pipe\\_%');
    expect(plans).toHaveLength(1);
    const [plan] = plans as [string];
    // The events after the cursor: in the index's order, the first 101 only, never all then sorted.
    expect(plan).toMatch(/Limit[^\n]*\n\s*->  Index Scan using chronicle_events_tx_position_idx on chronicle_events/);
    expect(plan).not.toMatch(/Seq Scan on chronicle_(events|streams)/);
    // No JIT: the settings that keep those paths out weigh on the sorts the statement cannot do without.
    expect(plan).not.toContain('JIT');
  });

  it('commits the empty transaction when the check fails, and names the conflict', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const observer = await database.openAnother();
    const event = (): NewEvent => ({ eventId: randomUUID(), type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: ['seat'], occurredAt: new Date() });
    const { next } = await journal.readByQuery([{ tags: ['seat'] }]);
    await journal.append(conditional([{ tags: ['seat'] }], next, 'seat-1', event()));
    const error = await journal.append(conditional([{ tags: ['seat'] }], next, 'seat-2', event())).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AppendConditionConflictError);
    expect(await sessionsInTransaction(observer, database.dataSource)).toBe(0);
    expect((await journal.readByQuery([{ tags: ['seat'] }])).events).toHaveLength(1);
  });
});

await describePostgres("PostgreSQL: conditional appends on a client that cannot pipeline them (node-postgres's own pipeline mode)", () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  it('appends another way: the decision commits, a stale one is refused, and no pipeline is sent', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: POSTGRES_URL, schema: database.tables.schema, poolSize: 2, extra: { pipeline: true } });
    await dataSource.initialize();
    try {
      const log = watchDataSourceLog(dataSource);
      const journal = new TypeOrmJournal(dataSource, database.tables);
      const event = (): NewEvent => ({ eventId: randomUUID(), type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: ['pm'], occurredAt: new Date() });
      const { next } = await journal.readByQuery([{ tags: ['pm'] }]);
      await journal.append(conditional([{ tags: ['pm'] }], next, 'pm-1', event()));
      await expect(journal.append(conditional([{ tags: ['pm'] }], next, 'pm-2', event()))).rejects.toBeInstanceOf(AppendConditionConflictError);
      expect((await journal.readByQuery([{ tags: ['pm'] }])).events.map((e) => e.streamId)).toEqual(['pm-1']);
      expect(log.pipelined()).toBe(0);
    } finally {
      await dataSource.destroy();
    }
  });
});
