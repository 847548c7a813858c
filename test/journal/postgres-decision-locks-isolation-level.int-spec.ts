import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AppendConditionConflictError, ConcurrencyError } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { conditionalAppend, openedWrite, ownerQuery } from '../support/conditional-appends.js';
import { raceConditionalAppends } from '../support/conditional-append-race.js';
import { watchDataSourceLog } from '../support/data-source-log-watch.js';
import { waitForAdvisoryLockWaiters } from '../support/advisory-lock-waiters.js';
import { holdStream } from '../support/held-unit-gate.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

// A conditional append's check must take its snapshot after its decision locks were granted,
// which only READ COMMITTED gives (a new snapshot per statement). The transactional path (a
// participant that cannot join the one statement) starts its transaction as TypeORM does, at the
// DataSource's isolationLevel; under REPEATABLE READ or SERIALIZABLE the lock statement's snapshot
// was the check's, taken before a conflicting unit it waited for committed.

const query = ownerQuery('ann');

await describePostgres('Conditional appends on the transactional path, whatever the DataSource isolationLevel', () => {
  for (const isolationLevel of ['REPEATABLE READ', 'SERIALIZABLE'] as const) {
    describe(isolationLevel, () => {
      let database: TestDatabase;
      let configured: DataSource;
      beforeEach(async () => {
        database = await openPostgresSchema();
        configured = new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize: 4, isolationLevel });
        await configured.initialize();
      });
      afterEach(async () => {
        await configured.destroy();
        await database.close();
      });

      it("refuses a decision that waited for a conflicting unit's locks: its check sees that unit's events", async () => {
        const holder = new TypeOrmJournal(database.dataSource, database.tables);
        const waiter = new TypeOrmJournal(configured, database.tables);
        // A participant that is not an AppendStatementParticipant (an application's own writes):
        // the waiter's unit goes through the transactional path.
        waiter.addParticipant({ participate: async () => undefined });
        const observer = await database.openAnother({ poolSize: 1 });
        // The holder commits while the waiter's transaction, waiting for its lock, is open.
        const { waiting, first, second } = await raceConditionalAppends(holder, waiter, observer);
        expect(waiting).toHaveLength(1);
        expect(first).toBe('committed');
        expect(second).toBeInstanceOf(AppendConditionConflictError);
        expect((await holder.readByQuery(query)).events).toHaveLength(1);
      }, 60_000);
    });
  }
});

// The pipelined path (no participants, a cursor) sends no BEGIN: its implicit transaction runs at
// the session's default_transaction_isolation. Under REPEATABLE READ the lock statement's snapshot
// would be the append's, blind to the unit it waited for; the append is gated on READ COMMITTED,
// writes nothing under another level, and the journal appends another way from then on.
await describePostgres('Conditional appends on the pipelined path, whatever the session default isolation level', () => {
  for (const level of ['repeatable read', 'serializable'] as const) {
    describe(level, () => {
      let database: TestDatabase;
      let configured: DataSource;
      beforeEach(async () => {
        database = await openPostgresSchema();
        configured = new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize: 4, extra: { options: `-c default_transaction_isolation=${level.replace(' ', '\\ ')}` } });
        await configured.initialize();
      });
      afterEach(async () => {
        await configured.destroy();
        await database.close();
      });

      it("refuses a decision that waited for a conflicting unit's locks, says once that it states READ COMMITTED instead, and keeps refusing", async () => {
        const [{ isolation }] = (await configured.query("SELECT current_setting('transaction_isolation') AS isolation")) as [{ isolation: string }];
        expect(isolation).toBe(level);
        const log = watchDataSourceLog(configured);
        const holder = new TypeOrmJournal(database.dataSource, database.tables);
        const waiter = new TypeOrmJournal(configured, database.tables);
        const observer = await database.openAnother({ poolSize: 1 });
        const { waiting, first, second } = await raceConditionalAppends(holder, waiter, observer);
        // The pipeline was refused before it took a lock: what waited was the query string that states the level.
        expect(waiting).toHaveLength(1);
        expect(waiting[0]).toMatch(/^BEGIN ISOLATION LEVEL READ COMMITTED;/);
        expect(first).toBe('committed');
        expect(second).toBeInstanceOf(AppendConditionConflictError);
        expect((await holder.readByQuery(query)).events).toHaveLength(1);
        // From then on the waiter states READ COMMITTED: a decision on a fresh read commits, one on a stale read is refused.
        const { next } = await waiter.readByQuery(query);
        await waiter.append(conditionalAppend(query, next, openedWrite(['owner:ann'], 'later-1')));
        await expect(waiter.append(conditionalAppend(query, next, openedWrite(['owner:ann'], 'later-2')))).rejects.toBeInstanceOf(AppendConditionConflictError);
        expect((await holder.readByQuery(query)).events).toHaveLength(2);
        expect(log.warnings.filter((message) => message.includes('default transaction isolation is not READ COMMITTED'))).toHaveLength(1);
      }, 60_000);

      it('refuses, without a serialization failure, a decision that waited for a unit updating the same stream', async () => {
        const holder = new TypeOrmJournal(database.dataSource, database.tables);
        const waiter = new TypeOrmJournal(configured, database.tables);
        const observer = await database.openAnother({ poolSize: 1 });
        await holder.append({ writes: [openedWrite(['owner:ann'], 'shared')] });
        const { next } = await holder.readByQuery(query);
        const shared = { ...openedWrite(['owner:ann'], 'shared'), expectedVersion: 1 };
        // The holder's unit (held open on its first write, HELD) updates the stream the waiter also
        // updates: under the default level, the waiter's row lock would meet a row changed after
        // its snapshot (40001) had its pipeline gone on past the lock statement.
        const gate = holdStream(holder, 'held');
        const outcome = (append: Promise<unknown>): Promise<unknown> => append.then(() => 'committed', (error: unknown) => error);
        const first = outcome(holder.append(conditionalAppend(query, next, openedWrite(['other'], 'held'), shared)));
        const { pid } = await gate.entered;
        const second = outcome(waiter.append(conditionalAppend(query, next, shared)));
        const waiting = await waitForAdvisoryLockWaiters(observer, pid);
        expect(waiting).toHaveLength(1);
        expect(waiting[0]).toMatch(/^BEGIN ISOLATION LEVEL READ COMMITTED;/);
        gate.open();
        expect(await first).toBe('committed');
        // The stream's version moved: the named conflict, not PostgreSQL's 40001.
        expect(await second).toBeInstanceOf(ConcurrencyError);
        expect((await holder.readByQuery(query)).events).toHaveLength(2);
      }, 60_000);
    });
  }
});
