import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import request from 'supertest';
import type { Journal } from '@chronicle/core';
import { CHRONICLE_JOURNAL, OutboxAdmin, OutboxMonitor, SubscriptionAdmin } from '@chronicle/nestjs';
import { startDemo, type DemoTestConfig, type RunningDemo } from '../support/demo-app.js';
import type { DemoDatabase } from './accounts.suite.js';

/**
 * The demo's tables reached around the app, as a bad migration, a hand-edited row or another
 * writer would: `?` placeholders on both databases.
 */
interface RawTables {
  dialect: 'postgres' | 'sqlite';
  /** A Chronicle table's name, schema-qualified on PostgreSQL. */
  table(base: 'events' | 'streams' | 'outbox'): string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs statements in one transaction. */
  transaction(statements: Array<[string, unknown[]]>): Promise<void>;
  close(): Promise<void>;
}

async function openRawTables(config: DemoTestConfig): Promise<RawTables> {
  if (config.databaseUrl) {
    const client = new pg.Client({ connectionString: config.databaseUrl });
    await client.connect();
    const dollar = (sql: string): string => {
      let n = 0;
      return sql.replace(/\?/g, () => `$${++n}`);
    };
    const query = async <T,>(sql: string, params: unknown[] = []): Promise<T[]> => (await client.query(dollar(sql), params)).rows as T[];
    return {
      dialect: 'postgres',
      table: (base) => `"${config.schema}"."chronicle_${base}"`,
      query,
      async transaction(statements) {
        await client.query('BEGIN');
        try {
          for (const [sql, params] of statements) await client.query(dollar(sql), params);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      },
      close: () => client.end(),
    };
  }
  // A second connection to the file. No busy wait inside the driver: better-sqlite3 is
  // synchronous, so waiting there would block the event loop, and with it the app's own
  // transaction that holds the lock. Retried asynchronously instead.
  const db = new Database(config.sqlitePath!, { timeout: 0 });
  const retry = async <T,>(work: () => T): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return work();
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || attempt > 500) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  return {
    dialect: 'sqlite',
    table: (base) => `chronicle_${base}`,
    query: <T,>(sql: string, params: unknown[] = []) =>
      retry(() => {
        const statement = db.prepare(sql);
        return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as T[];
      }),
    transaction: (statements) =>
      retry(() => {
        db.transaction(() => {
          for (const [sql, params] of statements) db.prepare(sql).run(...params);
        })();
      }),
    close: async () => {
      db.close();
    },
  };
}

/** `now` as each database stores Chronicle's timestamps. */
function now(dialect: RawTables['dialect']): string {
  return dialect === 'postgres' ? new Date().toISOString() : new Date().toISOString().replace('T', ' ').replace('Z', '');
}

/** Overwrites the stored payload of one event (and of its outbox entry, if asked) with raw text. */
async function corruptPayload(db: RawTables, streamId: string, version: number, payload: string, alsoOutbox: boolean): Promise<void> {
  const cast = db.dialect === 'postgres' ? '::jsonb' : '';
  await db.query(`UPDATE ${db.table('events')} SET payload = ?${cast} WHERE stream_id = ? AND version = ?`, [payload, streamId, version]);
  if (alsoOutbox) await db.query(`UPDATE ${db.table('outbox')} SET payload = ?${cast} WHERE stream_id = ? AND version = ?`, [payload, streamId, version]);
  for (const table of alsoOutbox ? (['events', 'outbox'] as const) : (['events'] as const)) {
    const [row] = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${db.table(table)} WHERE stream_id = ? AND version = ? AND payload = ?${cast}`, [streamId, version, payload]);
    expect(Number(row?.n)).toBe(1);
  }
}

/**
 * Appends an event by hand, as the library does: the stream row's version first, then the event
 * row at that version, in one transaction. No outbox entry is written (only the library does).
 */
async function appendByHand(db: RawTables, streamId: string, type: string, payload: string): Promise<number> {
  const [stream] = await db.query<{ version: number | string }>(`SELECT version FROM ${db.table('streams')} WHERE id = ?`, [streamId]);
  const version = Number(stream!.version) + 1;
  const cast = db.dialect === 'postgres' ? '::jsonb' : '';
  const at = now(db.dialect);
  await db.transaction([
    [`UPDATE ${db.table('streams')} SET version = ?, updated_at = ? WHERE id = ? AND version = ?`, [version, at, streamId, version - 1]],
    [
      `INSERT INTO ${db.table('events')} (stream_id, version, aggregate_type, event_id, type, schema_version, payload, metadata, occurred_at) ` +
        `VALUES (?, ?, 'account', ?, ?, 1, ?${cast}, ?${cast}, ?)`,
      [streamId, version, randomUUID(), type, payload, '{}', at],
    ],
  ]);
  return version;
}

/** Polls until `check` stops throwing. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const ERROR_KEYS = ['error', 'message', 'statusCode'];

/** The answer to a command on an aggregate whose history cannot be read: a 500 that names the event. */
function expectUnreadable(response: request.Response, message: RegExp): void {
  expect({ status: response.status, keys: Object.keys(response.body as object).sort(), message: response.body.message }).toEqual({
    status: 500,
    keys: ERROR_KEYS,
    message: expect.stringMatching(message),
  });
  expect(JSON.stringify(response.body)).not.toMatch(/\bat \S+ \(|node_modules|QueryFailedError|SELECT |INSERT /);
}

/**
 * Stored events that no longer read back — a payload that is not a JSON object, a type no class
 * declares — put there behind the library's back. The aggregates that hold them refuse commands
 * with an error naming the event and write nothing; every other aggregate, the balances
 * projection and the outbox relay keep working; the projection parks an undecodable event it
 * subscribes to instead of skipping it, and the relay dead-letters an undecodable entry.
 */
export function corruptEventsSuite(name: string, openDatabase: () => Promise<DemoDatabase>): void {
  describe(`corrupt stored events on ${name}`, () => {
    let database: DemoDatabase;
    let demo: RunningDemo;
    let db: RawTables;
    let http: ReturnType<typeof request>;
    const ids = { a: '', b: '', c: '' };
    const stream = (id: string): string => `account-${id}`;
    /** The payloads written over A's second event: each database refuses different garbage. */
    let garbage: { text: string; reason: RegExp };

    const journal = (): Journal => demo.app.get<Journal>(CHRONICLE_JOURNAL);
    const settings = { subscriptions: { pollIntervalMs: 100 } };

    async function open(owner: string, ...deposits: number[]): Promise<{ id: string; position: string }> {
      const opened = await http.post('/accounts').send({ owner }).expect(201);
      let position = opened.headers['chronicle-position'] as string;
      for (const amount of deposits) {
        position = (await http.post(`/accounts/${opened.body.id as string}/deposits`).send({ amount }).expect(200)).headers['chronicle-position'] as string;
      }
      return { id: opened.body.id as string, position };
    }

    beforeAll(async () => {
      database = await openDatabase();
      // First run without the outbox relay, so that A's entries are still pending when its
      // event is corrupted: the relay meets the corrupt entry after the restart.
      demo = await startDemo({ ...database.config, ...settings, outbox: { relay: false } });
      http = request(demo.url);
      ids.a = (await open('Ada', 100, 10)).id;
      ids.b = (await open('Bob', 200)).id;
      const c = await open('Carl', 300);
      ids.c = c.id;
      const caughtUp = await http.get('/accounts').query({ after: c.position }).expect(200);
      expect(caughtUp.body).toEqual(
        expect.arrayContaining([
          { id: ids.a, owner: 'Ada', balance: 110, closed: false },
          { id: ids.b, owner: 'Bob', balance: 200, closed: false },
          { id: ids.c, owner: 'Carl', balance: 300, closed: false },
        ]),
      );
      await demo.close();

      db = await openRawTables(database.config);
      garbage =
        db.dialect === 'postgres'
          ? { text: '[1,2,3]', reason: /the stored payload is an array, not an object/ }
          : { text: 'not json', reason: /the stored payload is not valid JSON/ };
      // (a) A's deposit at version 2 no longer decodes, in the journal and in its outbox entry.
      await corruptPayload(db, stream(ids.a), 2, garbage.text, true);
      // (b) B gets a version 3 of a type no class declares.
      expect(await appendByHand(db, stream(ids.b), 'account.interest-accrued', JSON.stringify({ accountId: ids.b, rate: 0.05 }))).toBe(3);

      // A new process: nothing is cached, every aggregate is read back from the journal.
      demo = await startDemo({ ...database.config, ...settings, outbox: { pollIntervalMs: 100 } });
      http = request(demo.url);
    }, 60_000);

    afterAll(async () => {
      await demo?.close();
      await db?.close();
      await database?.cleanup();
    });

    it('refuses every command and read of A with a 500 naming the undecodable event, and writes nothing', async () => {
      const problem = new RegExp(
        `^The account's stored history cannot be read: Event "account\\.money-deposited" in stream "${stream(ids.a)}" at version 2 cannot be decoded: ${garbage.reason.source}`,
      );
      expectUnreadable(await http.post(`/accounts/${ids.a}/deposits`).set('Idempotency-Key', 'corrupt-a-1').send({ amount: 5 }), problem);
      expectUnreadable(await http.post(`/accounts/${ids.a}/withdrawals`).send({ amount: 5 }), problem);
      expectUnreadable(await http.post(`/accounts/${ids.a}/close`), problem);
      expectUnreadable(await http.get(`/accounts/${ids.a}`), problem);
      // A retry meets the same history: the failure was not recorded as the command's outcome.
      expectUnreadable(await http.post(`/accounts/${ids.a}/deposits`).set('Idempotency-Key', 'corrupt-a-1').send({ amount: 5 }), problem);
      expect(await journal().findCommand('corrupt-a-1')).toBeUndefined();
      expect(await journal().streamVersion(stream(ids.a))).toBe(3);
      expect((await journal().readStream(stream(ids.a))).map((event) => event.version)).toEqual([1, 2, 3]);
      // The raw history stays readable for whoever repairs it.
      const events = await http.get(`/accounts/${ids.a}/events`).expect(200);
      expect(events.body[1]).toMatchObject({ type: 'account.money-deposited', version: 2, payload: db.dialect === 'postgres' ? [1, 2, 3] : 'not json' });
    });

    it('refuses every command and read of B with a 500 naming the unknown event type, and writes nothing', async () => {
      const problem = new RegExp(`^The account's stored history cannot be read: Event type "account\\.interest-accrued" in stream "${stream(ids.b)}" at version 3 is not registered`);
      expectUnreadable(await http.post(`/accounts/${ids.b}/deposits`).set('Idempotency-Key', 'corrupt-b-1').send({ amount: 5 }), problem);
      expectUnreadable(await http.post(`/accounts/${ids.b}/withdrawals`).send({ amount: 5 }), problem);
      expectUnreadable(await http.post(`/accounts/${ids.b}/close`), problem);
      expectUnreadable(await http.get(`/accounts/${ids.b}`), problem);
      expect(await journal().findCommand('corrupt-b-1')).toBeUndefined();
      expect(await journal().streamVersion(stream(ids.b))).toBe(3);
      expect((await journal().readStream(stream(ids.b))).map((event) => event.type)).toEqual(['account.opened', 'account.money-deposited', 'account.interest-accrued']);
    });

    it('keeps the other aggregates and the projection working: C takes deposits, new accounts open, GET /accounts shows them', async () => {
      const deposit = await http.post(`/accounts/${ids.c}/deposits`).send({ amount: 5 }).expect(200);
      expect(deposit.body).toMatchObject({ id: ids.c, balance: 305, version: 3 });
      const d = await open('Dora', 7);
      const listed = await http.get('/accounts').query({ after: d.position }).expect(200);
      expect(listed.body).toEqual(
        expect.arrayContaining([
          { id: ids.c, owner: 'Carl', balance: 305, closed: false },
          { id: d.id, owner: 'Dora', balance: 7, closed: false },
          // The projection passed B's unknown event by: it subscribes to none of that type.
          { id: ids.b, owner: 'Bob', balance: 200, closed: false },
          { id: ids.a, owner: 'Ada', balance: 110, closed: false },
        ]),
      );
      expect(await demo.app.get(SubscriptionAdmin).parked('projection:balances')).toEqual([]);
    });

    it('parks an undecodable event the balances projection subscribes to, naming EventDecodingError, and goes on with other accounts', async () => {
      // An account.money-deposited of A that reaches the projection only now, after it caught up.
      const poison = db.dialect === 'postgres' ? '"garbage"' : '{"accountId":';
      const version = await appendByHand(db, stream(ids.a), 'account.money-deposited', poison);
      expect(version).toBe(4);
      // A later, valid event of another account is projected all the same.
      const later = await http.post(`/accounts/${ids.c}/deposits`).send({ amount: 1 }).expect(200);
      const listed = await http.get('/accounts').query({ after: later.headers['chronicle-position'] as string }).expect(200);
      expect(listed.body).toEqual(
        expect.arrayContaining([
          { id: ids.c, owner: 'Carl', balance: 306, closed: false },
          { id: ids.a, owner: 'Ada', balance: 110, closed: false },
        ]),
      );

      const admin = demo.app.get(SubscriptionAdmin);
      const parked = await eventually(async () => {
        const found = await admin.parked('projection:balances');
        expect(found).toHaveLength(1);
        return found;
      });
      expect(parked[0]).toMatchObject({ streamId: stream(ids.a), version: 4, reason: 'failed' });
      expect(parked[0]!.error).toMatch(new RegExp(`^EventDecodingError: Event "account\\.money-deposited" in stream "${stream(ids.a)}" at version 4 cannot be decoded`));
    });

    it('GET /health answers 503 with the report naming the parked projection (the exception filter had replaced it with "Service Unavailable Exception")', async () => {
      const health = await http.get('/health');
      expect(health.status).toBe(503);
      expect(health.body.details.subscriptions).toMatchObject({
        status: 'down',
        subscriptions: { 'projection:balances': { parked: 1 } },
        unhealthy: expect.arrayContaining(['projection:balances']),
      });
    });

    it('dead-letters the outbox entry it cannot decode, holds back only the later entries of A, and publishes the others', async () => {
      const monitor = demo.app.get(OutboxMonitor);
      await eventually(async () => {
        // Pending: only A's version 3, behind its dead-lettered version 2.
        expect((await monitor.status()).find((handler) => handler.handler === 'log')).toMatchObject({ deadLettered: 1, pending: 1 });
      });
      const [dead] = await demo.app.get(OutboxAdmin).deadLetters('log');
      expect(dead).toMatchObject({ streamId: stream(ids.a), version: 2, eventType: 'account.money-deposited' });
      expect(dead!.lastError).toMatch(/^Cannot be decoded: /);
      const unpublished = await db.query<{ stream_id: string; version: number | string }>(
        `SELECT stream_id, version FROM ${db.table('outbox')} WHERE handler = 'log' AND published_at IS NULL ORDER BY stream_id, version`,
      );
      expect(unpublished.map((row) => [row.stream_id, Number(row.version)])).toEqual([
        [stream(ids.a), 2],
        [stream(ids.a), 3],
      ]);
      const published = await db.query<{ n: number | string }>(
        `SELECT count(*) AS n FROM ${db.table('outbox')} WHERE handler = 'log' AND published_at IS NOT NULL AND stream_id IN (?, ?)`,
        [stream(ids.b), stream(ids.c)],
      );
      // B: opened, deposited (its hand-written event has no entry); C: opened, three deposits.
      expect(Number(published[0]?.n)).toBe(6);
    });
  });
}
