import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { AppendConditionConflictError, type EventQuery } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { waitForAdvisoryLockWaiters } from '../support/advisory-lock-waiters.js';
import { conditionalAppend, OPENED, openedWrite, ownerQuery } from '../support/conditional-appends.js';
import { holdStream, type Gate } from '../support/held-unit-gate.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** The stream of the unit `held` keeps open, its locks taken, until the test opens the gate. */
const HELD = 'held';

await describePostgres('Conditional appends on PostgreSQL: only conflicting decisions wait for each other', () => {
  let database: TestDatabase;
  let held: TypeOrmJournal;
  let other: TypeOrmJournal;
  let observer: DataSource;
  let gate: Gate;

  beforeEach(async () => {
    database = await openPostgresSchema();
    held = new TypeOrmJournal(database.dataSource, database.tables);
    other = new TypeOrmJournal(await database.openAnother(), database.tables);
    observer = await database.openAnother();
    // Holds the first journal's unit on HELD open, with its locks, until the test opens the gate.
    gate = holdStream(held, HELD);
  });

  afterEach(async () => {
    gate.open();
    await database.close();
  });

  it('lets a decision on another tag commit while one holds its locks, and an unconditional append too', async () => {
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const holding = held.append(conditionalAppend(ownerQuery('ann'), next, openedWrite(['owner:ann'], HELD)));
    await gate.entered;
    const bob = await other.readByQuery(ownerQuery('bob'));
    await other.append(conditionalAppend(ownerQuery('bob'), bob.next, openedWrite(['owner:bob'])));
    await other.append({ writes: [openedWrite(['owner:ann'])] });
    gate.open();
    await holding;
    expect((await other.readByQuery([{ types: [OPENED] }])).events).toHaveLength(3);
  });

  it('makes a decision on the same tag wait for the one holding its locks, then refuses it', async () => {
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const holding = held.append(conditionalAppend(ownerQuery('ann'), next, openedWrite(['owner:ann'], HELD)));
    const { pid } = await gate.entered;
    const waiting = other.append(conditionalAppend(ownerQuery('ann'), next, openedWrite(['owner:ann'])));
    const outcome = waiting.then(
      () => 'committed',
      (error: unknown) => error,
    );
    // The second decision waits for an advisory lock the held unit holds (polled until it does).
    expect(await waitForAdvisoryLockWaiters(observer, pid)).toHaveLength(1);
    gate.open();
    await holding;
    expect(await outcome).toBeInstanceOf(AppendConditionConflictError);
    expect((await other.readByQuery(ownerQuery('ann'))).events).toHaveLength(1);
  });

  it('one round trip: the waiting decision is a pipeline (the lock statement, then the append, one Sync, no BEGIN) whose append still sees the unit committed while it waited', async () => {
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const holding = held.append(conditionalAppend(ownerQuery('ann'), next, openedWrite(['owner:ann'], HELD)));
    const { pid } = await gate.entered;
    // `other` has no participants and a cursor: its conditional unit goes as one pipeline.
    const outcome = other.append(conditionalAppend(ownerQuery('ann'), next, openedWrite(['owner:ann', 'second']))).then(
      () => 'committed',
      (error: unknown) => error,
    );
    const [query] = await waitForAdvisoryLockWaiters(observer, pid);
    // pg_stat_activity shows the statement the session runs, Parsed through the extended protocol:
    // the waiter is inside the lock statement, the append not run yet.
    expect(query).toMatch(/^SELECT \(CASE WHEN u\.exclusive THEN pg_advisory_xact_lock\(u\.key\) ELSE pg_advisory_xact_lock_shared\(u\.key\) END\) IS NULL AS unlocked FROM unnest/);
    // The holder commits its event while the pipeline waits for the lock; the append, the next
    // statement of the same implicit transaction, takes its snapshot after the lock was granted and sees it.
    gate.open();
    await holding;
    expect(await outcome).toBeInstanceOf(AppendConditionConflictError);
    expect((await other.readByQuery([{ tags: ['second'] }])).events).toHaveLength(0);
  });

  it('makes a type-only decision wait for a unit appending an event of its type under any tag', async () => {
    const typeOnly: EventQuery = [{ types: [OPENED] }];
    const { next } = await held.readByQuery(ownerQuery('ann'));
    const read = await other.readByQuery(typeOnly);
    const holding = held.append(conditionalAppend(ownerQuery('ann'), next, openedWrite(['owner:ann'], HELD)));
    const { pid } = await gate.entered;
    const outcome = other.append(conditionalAppend(typeOnly, read.next, openedWrite(['owner:zed']))).then(
      () => 'committed',
      (error: unknown) => error,
    );
    // The second decision waits for an advisory lock the held unit holds (polled until it does).
    expect(await waitForAdvisoryLockWaiters(observer, pid)).toHaveLength(1);
    gate.open();
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
        await journal.append(conditionalAppend(ownerQuery('ann'), next, openedWrite(['owner:ann'])));
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
    await journal.append(conditionalAppend(ownerQuery('ann'), null, openedWrite(['owner:ann'])));
    const first = await journal.readByQuery(ownerQuery('ann'));
    expect(first.events).toHaveLength(1);
    await journal.append(conditionalAppend(ownerQuery('ann'), first.next, openedWrite(['owner:ann'])));
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
