import { randomInt, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import pg from 'pg';
import type { EntityManager } from 'typeorm';
import { type AppendResult, type CommandRecord, type RecordedEvent, type StreamWrite } from '@chronicle/core';
import {
  DEFAULT_TABLE_PREFIX,
  runChronicleMigrations,
  runInTransaction,
  TransactionIdRebaseRefusedError,
  TransactionIdsAheadError,
  TypeOrmJournal,
  TypeOrmOutboxStore,
} from '@chronicle/typeorm';
import { holdStream, type Gate } from '../support/held-unit-gate.js';
import { testWrite } from '../support/journal-writes.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/*
 * The PostgreSQL feed under attack: sessions that hold no journal lock but wait on appending
 * transactions (a row a unit of work wrote, a command id it recorded) must never move the feed's
 * bound past those transactions. In pg_locks such a session has a not-granted ShareLock on the
 * appender's transaction id; only the appender's own granted ExclusiveLock may say whether it is
 * still in flight.
 */

const write = (streamId: string, expectedVersion: number, count = 1): StreamWrite => testWrite('attack', streamId, expectedVersion, count);

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

await describePostgres('PostgreSQL journal: the feed under attack by sessions waiting on appenders (guarantee 5)', () => {
  let database: TestDatabase;
  let appTable: string;
  const clients: pg.Client[] = [];
  const gates: Gate[] = [];

  /** A held unit of work, released by the test or, when the test failed first, after it. */
  const hold = (journal: TypeOrmJournal, streamId: string): Gate => {
    const gate = holdStream(journal, streamId, { appTable });
    gates.push(gate);
    return gate;
  };

  /** A statement that will wait; a test that fails first leaves it to end with its connection. */
  const pending = <T>(query: Promise<T>): Promise<T> => {
    query.catch(() => undefined);
    return query;
  };

  /** A Chronicle table of this test's schema, quoted. */
  const table = (base: string): string => `"${database.tables.schema ?? 'public'}"."${database.tables.tablePrefix ?? DEFAULT_TABLE_PREFIX}${base}"`;

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

  it('a transaction waiting for its lock on the journal tables holds the feed back: it may write events once it has the lock', async () => {
    const direct = new TypeOrmJournal(database.dataSource, database.tables);
    const reader = new TypeOrmJournal(await database.openAnother(), database.tables);
    const streams = table('streams');
    const [late, blocker, observer] = [await client(), await client(), await client()];
    const latePid = await backendPid(late);
    // An id first (an application row), a journal lock later: not how Chronicle appends, but
    // nothing tells the bound what this session will do once its lock is granted.
    await late.query('BEGIN');
    await late.query(`UPDATE ${appTable} SET n = n + 1 WHERE id = 1`);
    const [{ xid }] = (await late.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows as [{ xid: string }];
    const later = eventsOf(await direct.append({ writes: [write('later', 0)] }));

    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${streams} IN SHARE MODE`);
    const locking = pending(late.query(`LOCK TABLE ${streams} IN ROW EXCLUSIVE MODE`));
    await waitUntilBlocked(observer, latePid);

    expect(await reader.readAll(null, 2)).toEqual({ events: [], next: null });
    expect(await reader.feedBlocker()).toMatchObject({ transactionId: xid, pid: latePid });

    await blocker.query('COMMIT');
    await locking;
    await late.query('COMMIT');
    expect(idsOf((await reader.readAll(null, 2)).events)).toEqual(idsOf(later));
  });

  it('a reader inside a REPEATABLE READ transaction never passes a unit that committed after its snapshot, whatever bound another page left behind', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const direct = new TypeOrmJournal(await database.openAnother(), database.tables);
    // One journal for both reads: the bound a full page hands back is kept per journal.
    const readerSource = await database.openAnother();
    const reader = new TypeOrmJournal(readerSource, database.tables);
    const gate = hold(journal, 'held');
    const held = pending(journal.append({ writes: [write('held', 0)] }));
    await gate.entered;
    const later = eventsOf(await direct.append({ writes: [write('later', 0)] }));

    // The transaction's snapshot is taken by its first statement, while `held` is still open.
    const runner = readerSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction('REPEATABLE READ');
    try {
      await runner.query('SELECT 1');
      gate.open();
      const heldEvents = eventsOf(await held);
      // A reader outside reads a full page (held's event, the lower transaction id): its bound is
      // now past both units.
      expect(idsOf((await reader.readAll(null, 1)).events)).toEqual(idsOf(heldEvents));

      const seen: RecordedEvent[] = [];
      let cursor: string | null = null;
      for (let attempt = 0; attempt < 3; attempt++) {
        const page = await reader.readAll(cursor, 1, { tx: runner.manager });
        seen.push(...page.events);
        cursor = page.next;
      }
      await runner.commitTransaction();
      // After the transaction, the same cursor reads on: every event exactly once.
      for (let attempt = 0; attempt < 3; attempt++) {
        const page = await reader.readAll(cursor, 1);
        seen.push(...page.events);
        cursor = page.next;
      }
      expect(idsOf(seen)).toEqual([...idsOf(heldEvents), ...idsOf(later)]);
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it(
    'under writers on both append paths and sessions waiting on their rows, readers paging 1 and 2 events see every committed event exactly once',
    async () => {
      const hotRows = 3;
      const writersPerPath = 3;
      const appendsPerWriter = 100;
      // Transactional path: a participant that writes an application row after the events,
      // sometimes inside a savepoint (released, or rolled back and written again), sometimes
      // keeping the transaction open a while.
      const transactional = new TypeOrmJournal(database.dataSource, database.tables);
      let units = 0;
      transactional.addParticipant({
        participate: async (tx: EntityManager) => {
          const unit = units++;
          const update = `UPDATE ${appTable} SET n = n + 1 WHERE id = $1`;
          const row = 1 + (unit % hotRows);
          if (unit % 4 === 1) {
            await tx.query('SAVEPOINT attack');
            await tx.query(update, [row]);
            await tx.query('ROLLBACK TO SAVEPOINT attack');
            await tx.query(update, [row]);
          } else if (unit % 4 === 2) {
            await tx.query('SAVEPOINT attack');
            await tx.query(update, [row]);
            await tx.query('RELEASE SAVEPOINT attack');
          } else {
            await tx.query(update, [row]);
          }
          await delay(unit % 10 === 0 ? 25 : randomInt(4));
        },
      });
      // One-statement path: the outbox as its only participant (it writes inside the statement);
      // every unit records a command.
      const directSource = await database.openAnother();
      const direct = new TypeOrmJournal(directSource, database.tables);
      const outbox = new TypeOrmOutboxStore(directSource, database.tables);
      await outbox.subscribe([{ handler: 'audit', events: '*', startFrom: 'now' }]);
      direct.addParticipant(outbox);
      const transactionalOutbox = new TypeOrmOutboxStore(database.dataSource, database.tables);
      await transactionalOutbox.subscribe([{ handler: 'audit', events: '*', startFrom: 'now' }]);
      transactional.addParticipant(transactionalOutbox);
      const readers = [
        { journal: new TypeOrmJournal(await database.openAnother(), database.tables), limit: 1, seen: [] as RecordedEvent[] },
        { journal: new TypeOrmJournal(await database.openAnother(), database.tables), limit: 2, seen: [] as RecordedEvent[] },
      ];

      const committed: RecordedEvent[] = [];
      const announcedCommands: CommandRecord[] = [];
      let writersDone = false;
      const writers = Array.from({ length: writersPerPath * 2 }, async (_, worker) => {
        const onePath = worker % 2 === 0;
        const target = onePath ? direct : transactional;
        const versions = { main: 0, side: 0 };
        for (let index = 0; index < appendsPerWriter; index++) {
          const main = write(`w${worker}`, versions.main, 1 + (index % 3));
          versions.main += main.events.length;
          const writes = [main];
          // Every fifth unit writes a second stream: the multi-stream statements of both paths.
          if (index % 5 === 0) {
            const side = write(`w${worker}-side`, versions.side, 2);
            versions.side += side.events.length;
            writes.push(side);
          }
          const commands = onePath ? [command(main.streamId)] : [];
          announcedCommands.push(...commands);
          committed.push(...eventsOf(await target.append({ writes, commands })));
          if (index % 10 === 0) await delay(1);
        }
      });

      // Sessions that hold no journal lock and wait on the appenders, or take row locks on
      // the rows the appenders need.
      const attackerClients = await Promise.all(Array.from({ length: 5 }, () => client()));
      const attackerPids = await Promise.all(attackerClients.map(backendPid));
      const [updaters, [locker, holder, squatter]] = [attackerClients.slice(0, 2), attackerClients.slice(2)] as [
        pg.Client[],
        [pg.Client, pg.Client, pg.Client],
      ];
      const attacks = [
        // Update the hot rows: each waits on whichever unit of work wrote the row.
        ...updaters.map(async (updater, offset) => {
          for (let round = 0; !writersDone && round < 100_000; round++) {
            await updater.query(`UPDATE ${appTable} SET n = n + 1 WHERE id = $1`, [1 + ((round + offset) % hotRows)]);
            await delay(1);
          }
        }),
        // Locks a hot row FOR UPDATE and keeps it a moment: waits on units, and units wait on it.
        (async () => {
          for (let round = 0; !writersDone && round < 100_000; round++) {
            await locker.query('BEGIN');
            await locker.query(`SELECT n FROM ${appTable} WHERE id = $1 FOR UPDATE`, [1 + (round % hotRows)]);
            await delay(round % 10 === 0 ? 5 : 0);
            await locker.query('COMMIT');
            await delay(1);
          }
        })(),
        // A long transaction with an id (it wrote a row of its own) that never touches the journal.
        (async () => {
          for (let round = 0; !writersDone && round < 100_000; round++) {
            await holder.query('BEGIN');
            await holder.query(`UPDATE ${appTable} SET n = n + 1 WHERE id = $1`, [hotRows + 1 + (round % 5)]);
            await delay(30);
            await holder.query('COMMIT');
          }
        })(),
        // A retried command recorded by hand: waits on the first attempt's command row, never keeps it.
        (async () => {
          for (let round = 0; !writersDone && round < 100_000; round++) {
            const recent = announcedCommands[announcedCommands.length - 1];
            if (recent) {
              await squatter.query('BEGIN');
              await squatter.query(
                `INSERT INTO ${table('commands')} (command_id, fingerprint, stream_id, aggregate_type, outcome, recorded_at) ` +
                  `VALUES ($1, 'retry', $2, 'attack', '{}'::jsonb, now()) ON CONFLICT (command_id) DO NOTHING`,
                [recent.commandId, recent.streamId],
              );
              await squatter.query('ROLLBACK');
            }
            await delay(1);
          }
        })(),
      ];

      // Counts the moments an attacker waited on a transaction: else the run proved nothing.
      const observer = await client();
      let attackerWaits = 0;
      const watching = (async () => {
        for (let round = 0; !writersDone && round < 100_000; round++) {
          const { rows } = await observer.query<{ waits: number }>(
            "SELECT count(*)::int AS waits FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted AND pid = ANY ($1)",
            [attackerPids],
          );
          attackerWaits += rows[0]?.waits ?? 0;
          await delay(2);
        }
      })();

      const follow = async (reader: (typeof readers)[number]): Promise<void> => {
        let cursor: string | null = null;
        for (;;) {
          const finished = writersDone;
          const page = await reader.journal.readAll(cursor, reader.limit);
          reader.seen.push(...page.events);
          cursor = page.next;
          if (page.events.length === 0) {
            if (finished) return;
            await delay(1);
          }
        }
      };
      const following = readers.map(follow);
      await Promise.all(writers);
      writersDone = true;
      await Promise.all([...attacks, watching, ...following]);

      const expected = idsOf(committed).sort();
      let perWriter = 0;
      for (let index = 0; index < appendsPerWriter; index++) perWriter += 1 + (index % 3) + (index % 5 === 0 ? 2 : 0);
      expect(expected).toHaveLength(writersPerPath * 2 * perWriter);
      for (const reader of readers) {
        const seenIds = idsOf(reader.seen);
        const seenSet = new Set(seenIds);
        const missed = expected.filter((id) => !seenSet.has(id));
        expect({ limit: reader.limit, missed: missed.length, duplicates: seenIds.length - seenSet.size }).toEqual({
          limit: reader.limit,
          missed: 0,
          duplicates: 0,
        });
        expect([...seenIds].sort()).toEqual(expected);
        // Per stream: versions 1..n, in order.
        const byStream = new Map<string, number[]>();
        for (const recorded of reader.seen) byStream.set(recorded.streamId, [...(byStream.get(recorded.streamId) ?? []), recorded.version]);
        for (const versions of byStream.values()) expect(versions).toEqual(Array.from({ length: versions.length }, (_, index) => index + 1));
      }
      // Both paths wrote their outbox entries with their events.
      const [outboxRows] = (await database.dataSource.query(
        `SELECT count(*)::int AS n FROM ${table('outbox')}`,
      )) as [{ n: number }];
      expect(outboxRows.n).toBe(expected.length);
      expect(attackerWaits).toBeGreaterThan(0);
    },
    90_000,
  );
  // Transaction ids belong to a cluster. A journal restored into another cluster (pg_dump and
  // restore for a major upgrade or a move, logical replication) carries rows and stored cursors
  // whose ids are ahead of the new cluster's counter: its new appends would sort below every
  // stored cursor and be skipped, and the restored events would stay invisible until the counter
  // passed them. Simulated by moving the stored ids to where such a restore leaves them.

  /** The first transaction id this cluster has not assigned yet, plus `distance`. */
  const aheadOfCluster = async (distance: number): Promise<bigint> => {
    const [{ xmax }] = (await database.dataSource.query(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`)) as [{ xmax: string }];
    return BigInt(xmax) + BigInt(distance);
  };
  /** Gives the event at `position` transaction id `tx`, as the old cluster had written it. */
  const restoreAt = async (position: number, tx: bigint): Promise<void> => {
    await database.dataSource.query(`UPDATE ${table('events')} SET tx_id = $1::xid8 WHERE position = $2`, [String(tx), position]);
  };
  const storeCheckpoint = async (name: string, cursor: string | null): Promise<void> => {
    await database.dataSource.query(`INSERT INTO ${table('checkpoints')} (name, position, updated_at) VALUES ($1, $2, now())`, [name, cursor]);
  };
  const storeBackfill = async (handler: string, cursor: string): Promise<void> => {
    await database.dataSource.query(
      `INSERT INTO ${table('outbox_handlers')} (handler, start_from, backfill_cursor, registered_at) VALUES ($1, 'beginning', $2, now())`,
      [handler, cursor],
    );
  };
  const storedCursor = async (name: string): Promise<string | null> => {
    const [row] = (await database.dataSource.query(`SELECT position FROM ${table('checkpoints')} WHERE name = $1`, [name])) as [{ position: string | null }];
    return row.position;
  };
  const failureOf = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => 'no error', (error: unknown) => error);
  const readAllFrom = async (reader: TypeOrmJournal, after: string | null): Promise<string[]> => idsOf((await reader.readAll(after, 100)).events);

  it('a journal restored from another cluster is refused by name at start-up and on every feed read, whatever the cursor', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const reader = new TypeOrmJournal(await database.openAnother(), database.tables);
    const [old] = eventsOf(await journal.append({ writes: [write('restored', 0)] }));
    const restoredTx = await aheadOfCluster(1_000_000);
    await restoreAt(old!.position, restoredTx);
    const stored = `${restoredTx}:${old!.position}`;
    await storeCheckpoint('projection', stored);
    // Appends go on (the journal does not check them); the feed must neither skip nor reorder them silently.
    await journal.append({ writes: [write('restored', 1)] });

    const atStartUp = await failureOf(runChronicleMigrations(database.dataSource, database.tables));
    expect(atStartUp).toBeInstanceOf(TransactionIdsAheadError);
    expect(atStartUp).toMatchObject({ name: 'TransactionIdsAheadError', transactionId: String(restoredTx) });
    expect((atStartUp as Error).message).toMatch(/restored from another cluster.*rebaseTransactionIds\(\)/);
    await expect(journal.checkTransactionIds()).rejects.toBeInstanceOf(TransactionIdsAheadError);
    // A new subscriber would get the new event and never the restored one; one restored with the
    // journal would get nothing, forever. Both are refused, pages below a remembered bound included.
    for (const after of [null, stored, '1:1']) {
      await expect(reader.readAll(after, 1)).rejects.toBeInstanceOf(TransactionIdsAheadError);
      await expect(reader.readAll(after, 100)).rejects.toBeInstanceOf(TransactionIdsAheadError);
    }
  });

  it('a stored or passed feed cursor ahead of the cluster is refused by name, even when the journal is not', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const appended = await journal.append({ writes: [write('here', 0)] });
    const ahead = `${await aheadOfCluster(1_000_000)}:1`;
    const refused = await failureOf(journal.readAll(ahead, 10));
    expect(refused).toBeInstanceOf(TransactionIdsAheadError);
    expect((refused as Error).message).toContain(`feed cursor ${ahead}`);
    // This cluster's own cursors pass: the newest one handed out, and the start.
    expect(await readAllFrom(journal, appended.cursor!)).toEqual([]);
    expect(await readAllFrom(journal, null)).toEqual(idsOf(eventsOf(appended)));
    await expect(journal.checkTransactionIds()).resolves.toBeUndefined();

    await storeBackfill('mailer', ahead);
    const atStartUp = await failureOf(runChronicleMigrations(database.dataSource, database.tables));
    expect(atStartUp).toBeInstanceOf(TransactionIdsAheadError);
    expect((atStartUp as Error).message).toContain('outbox handler "mailer"');
  });

  it('a unit of work that appended reads the feed in its own transaction without being taken for a restored journal', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    await journal.append({ writes: [write('before', 0)] });
    // The case under test: the unit's own id is at or past the read's snapshot xmax (the newest id
    // assigned), which the restored-journal check must not take for another cluster's. Whether it
    // is depends on the rest of the server: a transaction elsewhere that takes an id between the
    // unit's insert and its read moves xmax past it (the read then sees its own row below the
    // bound, as it may). So `ahead` is asked after the read (xmax only grows: still ahead then
    // means ahead at the read) and an attempt that was not ahead is rolled back and made again.
    const notAhead = new Error('not ahead');
    for (let attempt = 1; ; attempt++) {
      const own = await runInTransaction(database.dataSource, async (tx) => {
        await tx.query(
          `INSERT INTO ${table('events')} (stream_id, version, aggregate_type, event_id, type, schema_version, payload, metadata, occurred_at) ` +
            `VALUES ('own', 1, 'attack', $1, 'attack.tested', 1, '{}', '{}', now())`,
          [randomUUID()],
        );
        const page = await journal.readAll(null, 10, { tx });
        const [{ ahead }] = (await tx.query(
          'SELECT pg_current_xact_id() >= pg_snapshot_xmax(pg_current_snapshot()) AS ahead',
        )) as [{ ahead: boolean }];
        if (!ahead && attempt < 50) throw notAhead;
        return { ahead, streams: page.events.map((event) => event.streamId) };
      }).catch((error: unknown) => (error === notAhead ? undefined : Promise.reject(error)));
      if (own === undefined) continue;
      // Its own row is past the bound (no committed reader could see it yet), and no error.
      expect(own).toEqual({ ahead: true, streams: ['before'] });
      break;
    }
  });

  it('rebaseTransactionIds() keeps the order every stored cursor saw, and the feed delivers what was appended since after the restored events', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const reader = new TypeOrmJournal(await database.openAnother(), database.tables);
    const appended = eventsOf(await journal.append({ writes: [write('a', 0), write('b', 0), write('c', 0), write('d', 0)] }));
    const [p1, p2, p3, p4] = appended.map((recorded) => recorded.position) as [number, number, number, number];
    // The old cluster's order, (tx, position): p1, p3, p2, p4. Positions are taken before commit,
    // so they need not follow it: p2's transaction committed after p3's.
    const base = await aheadOfCluster(1_000_000);
    await restoreAt(p1, base + 10n);
    await restoreAt(p3, base + 20n);
    await restoreAt(p2, base + 30n);
    await restoreAt(p4, base + 30n);
    const byPosition = new Map(appended.map((recorded) => [recorded.position, recorded.eventId]));
    const ids = (...positions: number[]): string[] => positions.map((position) => byPosition.get(position)!);
    // 'middle' covers p1 and p3 but not p2: not a position prefix, so no single constant id can
    // carry it over; rewriting every id to 3 would make it skip p2.
    await storeCheckpoint('first', `${base + 10n}:${p1}`);
    await storeCheckpoint('middle', `${base + 20n}:${p3}`);
    await storeCheckpoint('all', `${base + 30n}:${p4}`);
    await storeCheckpoint('fresh', null);
    await storeBackfill('mailer', `${base + 20n}:${p3}`);
    // Appended on this cluster after the restore, before anyone noticed.
    const since = eventsOf(await journal.append({ writes: [write('e', 0)] }));

    const rebase = await journal.rebaseTransactionIds();
    expect(rebase.events).toBe(4);
    expect(new Map(rebase.cursors.map((cursor) => [`${cursor.kind} ${cursor.name}`, cursor.rebased]))).toEqual(
      new Map([
        ['checkpoint all', `5:${p4}`],
        ['checkpoint first', `3:${p1}`],
        ['checkpoint middle', `4:${p3}`],
        ['outbox handler mailer', `4:${p3}`],
      ]),
    );

    await expect(runChronicleMigrations(database.dataSource, database.tables)).resolves.toEqual([]);
    await expect(journal.checkTransactionIds()).resolves.toBeUndefined();
    // Each subscription continues with exactly what it had not read, the event appended since included.
    expect(await readAllFrom(reader, await storedCursor('first'))).toEqual([...ids(p3, p2, p4), ...idsOf(since)]);
    expect(await readAllFrom(reader, await storedCursor('middle'))).toEqual([...ids(p2, p4), ...idsOf(since)]);
    expect(await readAllFrom(reader, await storedCursor('all'))).toEqual(idsOf(since));
    expect(await readAllFrom(reader, await storedCursor('fresh'))).toEqual([...ids(p1, p3, p2, p4), ...idsOf(since)]);
    const [{ backfill }] = (await database.dataSource.query(`SELECT backfill_cursor AS backfill FROM ${table('outbox_handlers')}`)) as [
      { backfill: string },
    ];
    expect(backfill).toBe(`4:${p3}`);
    // New appends come after everything, for every reader; page by page too.
    const later = eventsOf(await journal.append({ writes: [write('a', 1)] }));
    expect(await readAllFrom(reader, `5:${p4}`)).toEqual([...idsOf(since), ...idsOf(later)]);
    const paged: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page = await reader.readAll(cursor, 2);
      if (page.events.length === 0) break;
      paged.push(...idsOf(page.events));
      cursor = page.next;
    }
    expect(paged).toEqual([...ids(p1, p3, p2, p4), ...idsOf(since), ...idsOf(later)]);
    // Once is enough: a second run finds nothing ahead.
    await expect(journal.rebaseTransactionIds()).resolves.toEqual({ events: 0, cursors: [] });
  });

  it('rebaseTransactionIds() refuses by name, writing nothing, a cursor whose subscription read events appended since the restore', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const [old] = eventsOf(await journal.append({ writes: [write('old', 0)] }));
    const restoredTx = await aheadOfCluster(1_000_000);
    await restoreAt(old!.position, restoredTx);
    await storeCheckpoint('restored', `${restoredTx}:${old!.position}`);
    const since = await journal.append({ writes: [write('new', 0)] });
    // A subscription started on this cluster read the new event, never the restored one.
    await storeCheckpoint('started-here', since.cursor!);

    const refused = await failureOf(journal.rebaseTransactionIds());
    expect(refused).toBeInstanceOf(TransactionIdRebaseRefusedError);
    expect(refused).toMatchObject({ cursors: [{ kind: 'checkpoint', name: 'started-here', cursor: since.cursor }] });
    expect((refused as Error).message).toMatch(/started-here.*Reset those subscriptions/);
    const [{ tx }] = (await database.dataSource.query(`SELECT tx_id::text AS tx FROM ${table('events')} WHERE position = $1`, [old!.position])) as [
      { tx: string },
    ];
    expect(tx).toBe(String(restoredTx));
    expect(await storedCursor('restored')).toBe(`${restoredTx}:${old!.position}`);

    // Reset as the error says, and the rebase goes through.
    await database.dataSource.query(`DELETE FROM ${table('checkpoints')} WHERE name = 'started-here'`);
    await expect(journal.rebaseTransactionIds()).resolves.toMatchObject({ events: 1 });
    expect(await readAllFrom(journal, await storedCursor('restored'))).toEqual(idsOf(eventsOf(since)));
  });

  it('rebaseTransactionIds() refuses by name stored cursors ahead of the cluster when no event is', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    await journal.append({ writes: [write('here', 0)] });
    const ahead = `${await aheadOfCluster(1_000_000)}:1`;
    await storeCheckpoint('orphan', ahead);
    const refused = await failureOf(journal.rebaseTransactionIds());
    expect(refused).toBeInstanceOf(TransactionIdRebaseRefusedError);
    expect(refused).toMatchObject({ cursors: [{ kind: 'checkpoint', name: 'orphan', cursor: ahead }] });
    expect(await storedCursor('orphan')).toBe(ahead);
  });

  it('rebaseTransactionIds() waits for a running append and keeps it after the restored events', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const [old] = eventsOf(await journal.append({ writes: [write('old', 0)] }));
    const restoredTx = await aheadOfCluster(1_000_000);
    await restoreAt(old!.position, restoredTx);
    await storeCheckpoint('restored', `${restoredTx}:${old!.position}`);
    const gate = hold(journal, 'racing');
    const racing = pending(journal.append({ writes: [write('racing', 0)] }));
    await gate.entered;
    const rebasing = pending(new TypeOrmJournal(await database.openAnother(), database.tables).rebaseTransactionIds());
    const observer = await client();
    // The rebase waits for the append's lock on the streams table before it reads anything.
    let waiting = 0;
    for (let attempt = 0; attempt < 500 && waiting === 0; attempt++) {
      const { rows } = await observer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [`LOCK TABLE ${table('streams')}%`],
      );
      waiting = rows[0]!.n;
      if (waiting === 0) await delay(10);
    }
    expect(waiting).toBe(1);
    gate.open();
    const appended = await racing;
    await expect(rebasing).resolves.toMatchObject({ events: 1 });
    expect(await readAllFrom(journal, await storedCursor('restored'))).toEqual(idsOf(eventsOf(appended)));
  });
});
