import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { AppendConditionConflictError, type AppendRequest, type EventQuery, type NewEvent } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const OPENED = 'account.opened';

function event(tags: string[]): NewEvent {
  return { eventId: randomUUID(), type: OPENED, schemaVersion: 1, payload: {}, metadata: {}, tags, occurredAt: new Date() };
}

function conditional(query: EventQuery, after: string | null, ...events: NewEvent[]): AppendRequest {
  return { writes: [{ streamId: `s-${randomUUID()}`, aggregateType: 'a', expectedVersion: 0, events }], condition: { failIfEventsMatch: query, after } };
}

function ownerQuery(owner: string): EventQuery {
  return [{ types: [OPENED], tags: [`owner:${owner}`] }];
}

/**
 * Sessions waiting for a conditional append's advisory lock (the statement that takes them; other
 * users of advisory locks on the shared server do not run it).
 */
async function advisoryWaiters(observer: DataSource): Promise<number> {
  const [row] = (await observer.query(
    "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted " +
      "AND a.datname = current_database() AND a.query LIKE '%pg_advisory_xact_lock%'",
  )) as Array<{ n: number }>;
  return row?.n ?? 0;
}

await describePostgres('Conditional appends on PostgreSQL: only conflicting decisions wait for each other', () => {
  let database: TestDatabase;
  let held: TypeOrmJournal;
  let other: TypeOrmJournal;
  let observer: DataSource;
  let release: (() => void) | undefined;
  let entered: Promise<void>;

  beforeEach(async () => {
    database = await openPostgresSchema();
    held = new TypeOrmJournal(database.dataSource, database.tables);
    other = new TypeOrmJournal(await database.openAnother(), database.tables);
    observer = await database.openAnother();
    const gate = new Promise<void>((resolve) => (release = resolve));
    let enter!: () => void;
    entered = new Promise<void>((resolve) => (enter = resolve));
    // Holds the first journal's conditional unit open, with its locks, until the test releases it.
    held.addParticipant({
      participate: async (_tx, request) => {
        if (request.condition === undefined) return;
        enter();
        await gate;
      },
    });
  });

  afterEach(async () => {
    release?.();
    await database.close();
  });

  it('lets a decision on another tag commit while one holds its locks, and an unconditional append too', async () => {
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const holding = held.append(conditional(ownerQuery('ann'), next, event(['owner:ann'])));
    await entered;
    const bob = await other.readByQuery(ownerQuery('bob'));
    await other.append(conditional(ownerQuery('bob'), bob.next, event(['owner:bob'])));
    await other.append({ writes: [{ streamId: `s-${randomUUID()}`, aggregateType: 'a', expectedVersion: 0, events: [event(['owner:ann'])] }] });
    release?.();
    await holding;
    expect((await other.readByQuery([{ types: [OPENED] }])).events).toHaveLength(3);
  });

  it('makes a decision on the same tag wait for the one holding its locks, then refuses it', async () => {
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const holding = held.append(conditional(ownerQuery('ann'), next, event(['owner:ann'])));
    await entered;
    const waiting = other.append(conditional(ownerQuery('ann'), next, event(['owner:ann'])));
    const outcome = waiting.then(
      () => 'committed',
      (error: unknown) => error,
    );
    // The second decision waits on an advisory lock (polled; the loop ends as soon as it does).
    for (let poll = 0; poll < 500 && (await advisoryWaiters(observer)) === 0; poll++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await advisoryWaiters(observer)).toBeGreaterThan(0);
    release?.();
    await holding;
    expect(await outcome).toBeInstanceOf(AppendConditionConflictError);
    expect((await other.readByQuery(ownerQuery('ann'))).events).toHaveLength(1);
  });

  it('one round trip: the waiting decision is one query string (BEGIN, locks, append, COMMIT) whose check still sees the unit committed while it waited', async () => {
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const holding = held.append(conditional(ownerQuery('ann'), next, event(['owner:ann'])));
    await entered;
    // `other` has no participants: its conditional unit goes as one simple-protocol query string.
    const outcome = other.append(conditional(ownerQuery('ann'), next, event(['owner:ann', 'second']))).then(
      () => 'committed',
      (error: unknown) => error,
    );
    const waitingQuery = async (): Promise<string | undefined> => {
      const rows = (await observer.query(
        "SELECT a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()",
      )) as Array<{ query: string }>;
      return rows[0]?.query;
    };
    let query: string | undefined;
    for (let poll = 0; poll < 500 && (query = await waitingQuery()) === undefined; poll++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(query).toMatch(/^BEGIN ISOLATION LEVEL READ COMMITTED;\s*SELECT pg_advisory_xact_lock/);
    // pg_stat_activity shows the first track_activity_query_size bytes: the prepared append, with
    // the check written for a generic plan inside it, follows the locks in the same string.
    expect(query).toMatch(/IS NULL AS l\d+, set_config\('plan_cache_mode', 'force_generic_plan', true\) AS plan_cache_mode, set_config\('enable_seqscan', 'off', true\) AS enable_seqscan, set_config\('enable_sort', 'off', true\) AS enable_sort, set_config\('jit', 'off', true\) AS jit;\s*EXECUTE chronicle_cond_[0-9a-f]+\(/);
    // The holder commits its event while the string waits for the lock; the append's check, a
    // later statement of the same string, takes its snapshot after the lock was granted and sees it.
    release?.();
    await holding;
    expect(await outcome).toBeInstanceOf(AppendConditionConflictError);
    expect((await other.readByQuery([{ tags: ['second'] }])).events).toHaveLength(0);
  });

  it('makes a type-only decision wait for a unit appending an event of its type under any tag', async () => {
    const typeOnly: EventQuery = [{ types: [OPENED] }];
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const read = await other.readByQuery(typeOnly);
    const holding = held.append(conditional(ownerQuery('ann'), next, event(['owner:ann'])));
    await entered;
    const outcome = other.append(conditional(typeOnly, read.next, event(['owner:zed']))).then(
      () => 'committed',
      (error: unknown) => error,
    );
    for (let poll = 0; poll < 500 && (await advisoryWaiters(observer)) === 0; poll++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await advisoryWaiters(observer)).toBeGreaterThan(0);
    release?.();
    await holding;
    expect(await outcome).toBeInstanceOf(AppendConditionConflictError);
  });
});

await describePostgres('Conditional appends on PostgreSQL: the one-statement path under a race', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  /** The "at most `limit` per owner" decision, retried on a condition conflict; true when it appended. */
  async function decide(journal: TypeOrmJournal, limit: number): Promise<boolean> {
    for (;;) {
      const { events, next } = await journal.readByQuery(ownerQuery('ann'));
      if (events.length >= limit) return false;
      try {
        await journal.append(conditional(ownerQuery('ann'), next, event(['owner:ann'])));
        return true;
      } catch (error) {
        if (!(error instanceof AppendConditionConflictError)) throw error;
      }
    }
  }

  it('commits exactly the allowed number of decisions on one tag from two pools, without participants (one statement each)', async () => {
    const first = new TypeOrmJournal(database.dataSource, database.tables);
    const second = new TypeOrmJournal(await database.openAnother(), database.tables);
    for (let round = 0; round < 5; round++) {
      const limit = 3 * (round + 1);
      const outcomes = await Promise.all(Array.from({ length: 12 }, (_, index) => decide(index % 2 === 0 ? first : second, limit)));
      expect(outcomes.filter(Boolean).length).toBeLessThanOrEqual(3);
      expect((await first.readByQuery(ownerQuery('ann'))).events).toHaveLength(limit);
    }
  }, 120_000);

  it('checks a read\'s after cursor in the read\'s own statement: a bound cursor past the snapshot, or an event cursor it never wrote, is refused; its own cursors read on', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    await journal.append(conditional(ownerQuery('ann'), null, event(['owner:ann'])));
    const first = await journal.readByQuery(ownerQuery('ann'));
    expect(first.events).toHaveLength(1);
    await journal.append(conditional(ownerQuery('ann'), first.next, event(['owner:ann'])));
    const rest = await journal.readByQuery(ownerQuery('ann'), { after: first.next });
    expect(rest.events).toHaveLength(1);
    const [eventCursor] = [rest.events[0]!.cursor!];
    expect((await journal.readByQuery(ownerQuery('ann'), { after: eventCursor })).events).toEqual([]);
    const [tx] = eventCursor.split(':');
    for (const foreign of [`${BigInt(tx!) + 1_000_000n}:9223372036854775807`, `${tx}:999999999`]) {
      await expect(journal.readByQuery(ownerQuery('ann'), { after: foreign })).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'after' });
    }
  });
});
