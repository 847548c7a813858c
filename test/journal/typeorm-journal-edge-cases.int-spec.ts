import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ChronicleError, ConcurrencyError, EventDecodingError, InvalidArgumentError, type NewEvent, type StreamWrite } from '@chronicle/core';
import { AUTO_EARLY_FLUSH_SIZE, CommitBatcher } from '../../libs/core/src/gateway/commit-batcher.js';
import { TransactionIdsAheadError, TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, openSqliteMemory, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const CLOCK_NOW = new Date(Date.UTC(2023, 10, 5, 6, 7, 8, 9));

function event(overrides: Partial<NewEvent> = {}): NewEvent {
  return { eventId: randomUUID(), type: 'edge.case', schemaVersion: 1, payload: { a: 1 }, metadata: {}, tags: [], occurredAt: new Date(), ...overrides };
}

function write(streamId: string, expectedVersion: number, events: NewEvent[] = [event()]): StreamWrite {
  return { streamId, aggregateType: 'edge', expectedVersion, events };
}

async function failureOf(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => {
      throw new Error('expected the operation to fail, but it succeeded');
    },
    (error: unknown) => error,
  );
}

/** Adapter behaviour beyond the contract, on both dialects. */
function edgeCases(open: () => Promise<TestDatabase>): void {
  let database: TestDatabase;
  let journal: TypeOrmJournal;

  const setUp = async (): Promise<void> => {
    database = await open();
    journal = new TypeOrmJournal(database.dataSource, { ...database.tables, clock: { now: () => new Date(CLOCK_NOW) } });
  };
  afterEach(async () => {
    await database.close();
  });

  it('refuses a malformed request naming the problem, and writes nothing', async () => {
    await setUp();
    const cases: Array<[StreamWrite, string, RegExp]> = [
      [write('', 0), 'InvalidAppendRequest', /writes\[1\]\.streamId is empty/],
      [write('s', -1), 'InvalidArgumentError', /writes\[1\]\.expectedVersion must be a safe integer >= 0 .*, got -1\./],
      [write('s', 0, []), 'InvalidAppendRequest', /writes\[1\] \(stream "s"\) has no events/],
      [write('s', 0, [event({ schemaVersion: 0 })]), 'InvalidAppendRequest', /events\[0\]\.schemaVersion 0 is not a positive integer/],
      [write('s', 0, [event({ occurredAt: new Date(Number.NaN) })]), 'InvalidAppendRequest', /events\[0\]\.occurredAt is not a valid Date/],
    ];
    for (const [bad, code, message] of cases) {
      const error = await failureOf(journal.append({ writes: [write('fine', await journal.streamVersion('fine')), bad] }));
      expect(error).toBeInstanceOf(ChronicleError);
      expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
    }
    expect(await journal.listStreams()).toEqual([]);
    expect((await journal.readAll(null, 10)).events).toEqual([]);
  });

  it('refuses a feed cursor it did not make', async () => {
    await setUp();
    for (const cursor of ['garbage', '-1', '1:2:3', "1'; drop table x; --"]) {
      const error = await failureOf(journal.readAll(cursor, 10));
      expect(error).toBeInstanceOf(ChronicleError);
      expect(error).toMatchObject({ code: 'InvalidFeedCursor', message: expect.stringContaining(`"${cursor}"`) });
    }
  });

  it('stamps stream rows with its clock', async () => {
    await setUp();
    await journal.append({ writes: [write('clocked', 0)] });
    const rows = (await database.dataSource.query(
      `SELECT created_at, updated_at FROM ${database.tables.schema ? `"${database.tables.schema}".` : ''}chronicle_streams`,
    )) as Array<{ created_at: unknown; updated_at: unknown }>;
    const asDate = (value: unknown): number =>
      value instanceof Date ? value.getTime() : new Date(`${String(value).replace(' ', 'T')}Z`).getTime();
    expect(rows.map((row) => [asDate(row.created_at), asDate(row.updated_at)])).toEqual([[CLOCK_NOW.getTime(), CLOCK_NOW.getTime()]]);
  });

  it('deleteStream never moves the mark past the version or back, and ignores a stream never written', async () => {
    await setUp();
    await journal.append({ writes: [write('marks', 0, [event(), event(), event()])] });
    await journal.deleteStream('marks', 2);
    await journal.deleteStream('marks', 1);
    expect(await journal.streamInfo('marks')).toMatchObject({ version: 3, deletedUpTo: 2 });
    await journal.deleteStream('marks', 99);
    expect(await journal.streamInfo('marks')).toMatchObject({ version: 3, deletedUpTo: 3 });
    await journal.deleteStream('never-written');
    expect(await journal.streamInfo('never-written')).toBeUndefined();
  });

  it('gets early group-commit batches on PostgreSQL, whose appends run in the server, and end-of-turn batches on SQLite', async () => {
    await setUp();
    const sizes: number[] = [];
    const append = journal.append.bind(journal);
    journal.append = (request) => {
      sizes.push(request.writes.length);
      return append(request);
    };
    const batcher = new CommitBatcher(journal);
    const results = await Promise.all(Array.from({ length: 70 }, (_, i) => batcher.append({ writes: [write(`batched-${i}`, 0)] })));
    expect(results.map((result) => result.streams[0]?.streamId)).toEqual(Array.from({ length: 70 }, (_, i) => `batched-${i}`));
    const postgres = database.dataSource.options.type === 'postgres';
    expect(sizes).toEqual(postgres ? [AUTO_EARLY_FLUSH_SIZE, AUTO_EARLY_FLUSH_SIZE, 70 - 2 * AUTO_EARLY_FLUSH_SIZE] : [70]);
  });

  it('fills a stream up to the last version its dialect stores, then refuses another event by name and writes nothing', async () => {
    await setUp();
    // PostgreSQL's version columns are int4; SQLite's hold every safe integer.
    const last = database.dataSource.options.type === 'postgres' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
    await journal.append({ writes: [write('full', 0)] });
    const streams = `${database.tables.schema ? `"${database.tables.schema}".` : ''}chronicle_streams`;
    // Reaching the last version by appending would take billions of events: the row is moved there.
    await database.dataSource.query(`UPDATE ${streams} SET version = ${last - 2} WHERE id = 'full'`);
    await journal.append({ writes: [write('full', last - 2, [event(), event()])] });
    expect((await journal.readStream('full', { fromVersion: last - 1 })).map((recorded) => recorded.version)).toEqual([last - 1, last]);
    expect((await journal.readStream('full', { fromVersion: last, toVersion: Number.MAX_SAFE_INTEGER })).map((recorded) => recorded.version)).toEqual([last]);

    const full = await failureOf(journal.append({ writes: [write('full', last)] }));
    expect(full).toBeInstanceOf(InvalidArgumentError);
    expect(full).toMatchObject({ argument: 'writes[0].events.length', value: 1, message: expect.stringContaining(`at most 0 for stream "full" at version ${last}`) });
    const stale = await failureOf(journal.append({ writes: [write('full', last - 1)] }));
    expect(stale).toBeInstanceOf(ConcurrencyError);
    expect(stale).toMatchObject({ expectedVersion: last - 1, actualVersion: last });
    expect(await journal.streamVersion('full')).toBe(last);
    expect((await journal.readAll(null, 10)).events).toHaveLength(3);

    await journal.deleteStream('full', Number.MAX_SAFE_INTEGER);
    expect(await journal.streamInfo('full')).toMatchObject({ version: last, deletedUpTo: last });
  });

  it('stores a schemaVersion up to the largest its dialect holds, and refuses a larger one by name before writing anything', async () => {
    await setUp();
    // PostgreSQL's schema_version column is int4; SQLite's holds every safe integer.
    const last = database.dataSource.options.type === 'postgres' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
    await journal.append({ writes: [write('schemas', 0, [event({ schemaVersion: last })])] });
    expect((await journal.readStream('schemas')).map((recorded) => recorded.schemaVersion)).toEqual([last]);
    for (const bad of [last + 1, 2 ** 53, 1e21].filter((value) => value > last)) {
      const error = await failureOf(journal.append({ writes: [write('fine', 0), write('schemas', 1, [event({ schemaVersion: bad })])] }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ argument: 'writes[1].events[0].schemaVersion', value: bad });
    }
    expect(await journal.listStreams()).toEqual(['schemas']);
    expect((await journal.readAll(null, 10)).events).toHaveLength(1);
  });

  it('lets two writes of one unit extend the same stream in order', async () => {
    await setUp();
    const result = await journal.append({ writes: [write('twice', 0), write('twice', 1, [event(), event()])] });
    expect(result.streams.map((stream) => [stream.fromVersion, stream.toVersion])).toEqual([
      [1, 1],
      [2, 3],
    ]);
    expect((await journal.readStream('twice')).map((recorded) => recorded.version)).toEqual([1, 2, 3]);
  });
}

describe('TypeOrmJournal edge cases on SQLite', () => {
  edgeCases(() => openSqliteMemory());

  it('returns a stored payload that no longer parses as its raw text, and fails on corrupt metadata naming the event', async () => {
    const database = await openSqliteMemory();
    try {
      const journal = new TypeOrmJournal(database.dataSource);
      await journal.append({ writes: [write('corrupt', 0, [event(), event()])] });
      await database.dataSource.query(`UPDATE chronicle_events SET payload = '{"broken": ' WHERE version = 1`);
      const [first, second] = await journal.readStream('corrupt');
      expect(first).toMatchObject({ version: 1, payload: '{"broken": ' });
      expect(second).toMatchObject({ version: 2, payload: { a: 1 } });

      await database.dataSource.query(`UPDATE chronicle_events SET metadata = 'nope' WHERE version = 2`);
      const error = await failureOf(journal.readStream('corrupt'));
      expect(error).toBeInstanceOf(EventDecodingError);
      expect(error).toMatchObject({ eventType: 'edge.case', streamId: 'corrupt', version: 2 });
    } finally {
      await database.close();
    }
  });
});

await describePostgres('TypeOrmJournal edge cases on PostgreSQL', () => {
  edgeCases(() => openPostgresSchema());

  it('refuses by name a cursor whose transaction id or position no feed reaches (past xid8, past int8), before any statement', async () => {
    const database = await openPostgresSchema();
    try {
      const journal = new TypeOrmJournal(database.dataSource, database.tables);
      const appended = await journal.append({ writes: [write('wide', 0)] });
      for (const cursor of ['18446744073709551616:1', '1:9223372036854775808', '99999999999999999999:99999999999999999999']) {
        const error = await failureOf(journal.readAll(cursor, 10));
        expect(error).toBeInstanceOf(ChronicleError);
        expect(error).toMatchObject({ code: 'InvalidFeedCursor', message: expect.stringContaining(`"${cursor}"`) });
      }
      // The largest of each is a cursor: the largest position reads (past every event of its
      // transaction), the largest transaction id is one this cluster never assigned, refused by name.
      const [tx] = appended.cursor!.split(':') as [string];
      expect(await journal.readAll(`${tx}:9223372036854775807`, 10)).toMatchObject({ events: [] });
      await expect(journal.readAll('18446744073709551615:9223372036854775807', 10)).rejects.toBeInstanceOf(TransactionIdsAheadError);
    } finally {
      await database.close();
    }
  });
});
