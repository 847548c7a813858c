import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AppendConditionConflictError } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { waitForAdvisoryLockWaiters } from '../support/advisory-lock-waiters.js';
import { conditionalAppend, openedWrite, ownerQuery } from '../support/conditional-appends.js';
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
        // Holds the first unit open, its locks taken and its event written.
        const gate = holdStream(holder, 'held');
        const { next } = await holder.readByQuery(query);
        const first = holder.append(conditionalAppend(query, next, openedWrite(['owner:ann'], 'held'))).then(
          () => 'committed',
          (error: unknown) => error,
        );
        const { pid } = await gate.entered;
        const second = waiter.append(conditionalAppend(query, next, openedWrite(['owner:ann']))).then(
          () => 'committed',
          (error: unknown) => error,
        );
        // Released only once the waiter waits for the advisory lock the holder holds, so the
        // holder commits while the waiter's transaction is open (polled; 10 s at most).
        const waiting = await waitForAdvisoryLockWaiters(observer, pid);
        gate.open();
        expect(waiting).toHaveLength(1);
        expect(await first).toBe('committed');
        expect(await second).toBeInstanceOf(AppendConditionConflictError);
        expect((await holder.readByQuery(query)).events).toHaveLength(1);
      }, 60_000);
    });
  }
});
