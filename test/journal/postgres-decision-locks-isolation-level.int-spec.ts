import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AppendConditionConflictError, type AppendRequest, type EventQuery, type NewEvent } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

// A conditional append's check must take its snapshot after its decision locks were granted,
// which only READ COMMITTED gives (a new snapshot per statement). The transactional path (a
// participant that cannot join the one statement) starts its transaction as TypeORM does, at the
// DataSource's isolationLevel; under REPEATABLE READ or SERIALIZABLE the lock statement's snapshot
// was the check's, taken before a conflicting unit it waited for committed.

const OPENED = 'account.opened';
const query: EventQuery = [{ types: [OPENED], tags: ['owner:ann'] }];

function event(tags: string[]): NewEvent {
  return { eventId: randomUUID(), type: OPENED, schemaVersion: 1, payload: {}, metadata: {}, tags, occurredAt: new Date() };
}

function conditional(after: string | null): AppendRequest {
  return {
    writes: [{ streamId: `s-${randomUUID()}`, aggregateType: 'a', expectedVersion: 0, events: [event(['owner:ann'])] }],
    condition: { failIfEventsMatch: query, after },
  };
}

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
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let entered!: () => void;
        const inside = new Promise<void>((resolve) => (entered = resolve));
        // Holds the first unit open, its locks taken and its event written.
        holder.addParticipant({
          participate: async (_tx, request) => {
            if (request.condition === undefined) return;
            entered();
            await gate;
          },
        });
        const { next } = await holder.readByQuery(query);
        const first = holder.append(conditional(next)).then(
          () => 'committed',
          (error: unknown) => error,
        );
        await inside;
        const second = waiter.append(conditional(next)).then(
          () => 'committed',
          (error: unknown) => error,
        );
        // Time for the waiter to reach the advisory lock the holder holds.
        await new Promise((resolve) => setTimeout(resolve, 500));
        release();
        expect(await first).toBe('committed');
        expect(await second).toBeInstanceOf(AppendConditionConflictError);
        expect((await holder.readByQuery(query)).events).toHaveLength(1);
      }, 60_000);
    });
  }
});
