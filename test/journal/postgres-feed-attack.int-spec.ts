import { randomInt, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import pg from 'pg';
import type { EntityManager } from 'typeorm';
import type { AppendResult, CommandRecord, NewEvent, RecordedEvent, StreamWrite } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/*
 * The PostgreSQL feed under attack: sessions that hold no journal lock but wait on appending
 * transactions (a row a unit of work wrote, a command id it recorded) must never move the feed's
 * bound past those transactions. In pg_locks such a session has a not-granted ShareLock on the
 * appender's transaction id; only the appender's own granted ExclusiveLock may say whether it is
 * still in flight.
 */

function event(label: string): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'attack.tested',
    schemaVersion: 1,
    payload: { label },
    metadata: {},
    tags: [],
    occurredAt: new Date(),
  };
}

function write(streamId: string, expectedVersion: number, count = 1): StreamWrite {
  return {
    streamId,
    aggregateType: 'attack',
    expectedVersion,
    events: Array.from({ length: count }, (_, index) => event(`${streamId}#${expectedVersion + index + 1}`)),
  };
}

function command(streamId: string): CommandRecord {
  return {
    commandId: randomUUID(),
    fingerprint: 'attack',
    streamId,
    aggregateType: 'attack',
    outcome: { kind: 'accepted', fromVersion: 1, toVersion: 1 },
    recordedAt: new Date(),
  };
}

function idsOf(events: readonly { eventId: string }[]): string[] {
  return events.map((recorded) => recorded.eventId);
}

function eventsOf(result: AppendResult): RecordedEvent[] {
  return result.streams.flatMap((stream) => stream.events);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  return client;
}

async function backendPid(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/**
 * Resolves once session `waiter` waits on a lock (PostgreSQL's own view: `pg_blocking_pids`). A
 * second waiter on one row may wait on the first waiter's tuple lock rather than on the owner.
 */
async function waitUntilBlocked(observer: pg.Client, waiter: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const { rows } = await observer.query<{ blocked: boolean }>('SELECT cardinality(pg_blocking_pids($1)) > 0 AS blocked', [waiter]);
    if (rows[0]?.blocked) return;
    await delay(10);
  }
  throw new Error(`session ${waiter} never waited on a lock`);
}

/** A latch a participant waits on, so a test decides when the unit of work may commit. */
interface Gate {
  entered: Promise<{ xid: string; pid: number }>;
  open(): void;
}

/**
 * Holds every unit whose first write targets `streamId` open after it wrote its events and then,
 * as a participant, updated application row 1 of `appTable` (after the events, as the README
 * asks), reporting that transaction's id and backend pid.
 */
function holdStream(journal: TypeOrmJournal, streamId: string, appTable: string): Gate {
  let reportEntered!: (value: { xid: string; pid: number }) => void;
  const entered = new Promise<{ xid: string; pid: number }>((resolve) => {
    reportEntered = resolve;
  });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  journal.addParticipant({
    participate: async (tx: EntityManager, request) => {
      if (request.writes[0]?.streamId !== streamId) return;
      await tx.query(`UPDATE ${appTable} SET n = n + 1 WHERE id = 1`);
      const [row] = (await tx.query('SELECT pg_current_xact_id()::text AS xid, pg_backend_pid() AS pid')) as Array<{ xid: string; pid: number }>;
      reportEntered({ xid: row?.xid ?? '', pid: row?.pid ?? 0 });
      await gate;
    },
  });
  return { entered, open };
}

await describePostgres('PostgreSQL journal: the feed under attack by sessions waiting on appenders (guarantee 5)', () => {
  let database: TestDatabase;
  let appTable: string;
  const clients: pg.Client[] = [];
  const gates: Gate[] = [];

  /** A held unit of work, released by the test or, when the test failed first, after it. */
  const hold = (journal: TypeOrmJournal, streamId: string): Gate => {
    const gate = holdStream(journal, streamId, appTable);
    gates.push(gate);
    return gate;
  };

  /** A statement that will wait; a test that fails first leaves it to end with its connection. */
  const pending = <T>(query: Promise<T>): Promise<T> => {
    query.catch(() => undefined);
    return query;
  };

  const client = async (): Promise<pg.Client> => {
    const opened = await connect();
    clients.push(opened);
    return opened;
  };

  beforeEach(async () => {
    database = await openPostgresSchema();
    appTable = `"${database.tables.schema ?? 'public'}".app_rows`;
    const setup = await client();
    await setup.query(`CREATE TABLE ${appTable} (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)`);
    await setup.query(`INSERT INTO ${appTable} (id) SELECT generate_series(1, 10)`);
  });

  afterEach(async () => {
    for (const gate of gates.splice(0)) gate.open();
    for (const opened of clients.splice(0)) await opened.end().catch(() => undefined);
    await database.close();
  });

  it.each([
    ['UPDATE', (table: string) => `UPDATE ${table} SET n = n + 1 WHERE id = 1`],
    ['SELECT … FOR UPDATE', (table: string) => `SELECT n FROM ${table} WHERE id = 1 FOR UPDATE`],
  ])(
    'a plain session waiting (%s) on a row an open unit of work wrote does not let readers pass that unit',
    async (_, waiterSql) => {
      const journal = new TypeOrmJournal(database.dataSource, database.tables);
      // Without participants: the one-statement append, committing while the held unit is open.
      const direct = new TypeOrmJournal(await database.openAnother(), database.tables);
      const reader = new TypeOrmJournal(await database.openAnother(), database.tables);
      const gate = hold(journal, 'held');
      const held = pending(journal.append({ writes: [write('held', 0)] }));
      const owner = await gate.entered;

      const waiter = await client();
      const waiterPid = await backendPid(waiter);
      const waiting = pending(waiter.query(waiterSql(appTable)));
      await waitUntilBlocked(await client(), waiterPid);

      const later = eventsOf(await direct.append({ writes: [write('later', 0)] }));
      // Every read while the held unit is open: nothing, for a cursor past `later` would skip it.
      for (let attempt = 0; attempt < 3; attempt++) {
        const page = await reader.readAll(null, 2);
        expect(idsOf(page.events)).toEqual([]);
        expect(page.next).toBeNull();
      }

      gate.open();
      const heldEvents = eventsOf(await held);
      await waiting;
      const page = await reader.readAll(null, 10);
      expect(idsOf(page.events)).toEqual([...idsOf(heldEvents), ...idsOf(later)]);
    },
  );

  it('feedBlocker names the appending transaction and its own session, not the sessions waiting on it', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const direct = new TypeOrmJournal(await database.openAnother(), database.tables);
    const reader = new TypeOrmJournal(await database.openAnother(), database.tables);
    const gate = hold(journal, 'held');
    const held = pending(journal.append({ writes: [write('held', 0)] }));
    const owner = await gate.entered;

    const observer = await client();
    const waiters = [await client(), await client()];
    const waiterPids = await Promise.all(waiters.map(backendPid));
    const waiting = [
      pending(waiters[0]!.query(`UPDATE ${appTable} SET n = n + 1 WHERE id = 1`)),
      pending(waiters[1]!.query(`SELECT n FROM ${appTable} WHERE id = 1 FOR UPDATE`)),
    ];
    for (const pid of waiterPids) await waitUntilBlocked(observer, pid);
    await direct.append({ writes: [write('later', 0)] });

    const blocker = await reader.feedBlocker();
    expect(blocker).toMatchObject({ transactionId: owner.xid, pid: owner.pid, state: 'idle in transaction' });
    expect(waiterPids).not.toContain(blocker?.pid);

    gate.open();
    await held;
    await Promise.all(waiting);
    expect(await reader.feedBlocker()).toBeUndefined();
  });
});
