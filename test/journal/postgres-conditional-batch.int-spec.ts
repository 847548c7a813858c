import { randomUUID } from 'node:crypto';
import {
  AppendConditionConflictError,
  type AppendRequest,
  type AppendResult,
  type EventQuery,
  type FeedCursor,
  type NewEvent,
} from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { CommitBatcher } from '../../libs/core/src/gateway/commit-batcher.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

function event(tags: string[]): NewEvent {
  return { eventId: randomUUID(), type: 'seat.taken', schemaVersion: 1, payload: {}, metadata: {}, tags, occurredAt: new Date() };
}

function conditional(query: EventQuery, after: FeedCursor | null, tags: string[]): AppendRequest {
  return {
    writes: [{ streamId: `decision-${randomUUID()}`, aggregateType: 'decision', expectedVersion: 0, events: [event(tags)] }],
    condition: { failIfEventsMatch: query, after },
  };
}

/** A journal whose batches are recorded (their sizes), to show that batching happened. */
function recording(journal: TypeOrmJournal): { journal: TypeOrmJournal; sizes: number[] } {
  const sizes: number[] = [];
  const batch = journal.appendConditionalBatch.bind(journal);
  journal.appendConditionalBatch = async (requests: readonly AppendRequest[]): Promise<AppendResult[] | undefined> => {
    sizes.push(requests.length);
    return batch(requests);
  };
  return { journal, sizes };
}

await describePostgres('PostgreSQL: conditional units batched together (group commit for decisions)', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });
  afterEach(async () => {
    await database.close();
  });

  it('commits decisions on disjoint tags in shared batches, every one of them', async () => {
    const { journal, sizes } = recording(new TypeOrmJournal(database.dataSource, database.tables));
    const batcher = new CommitBatcher(journal);
    const reads = await Promise.all(Array.from({ length: 32 }, (_, i) => journal.readByQuery([{ tags: [`seat:${i}`] }])));
    await Promise.all(reads.map((read, i) => batcher.append(conditional([{ tags: [`seat:${i}`] }], read.next, [`seat:${i}`]))));
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect((await journal.readByQuery([{}])).events).toHaveLength(32);
  });

  it('never commits two of many decisions made on the same read of one tag, through two batchers on two pools', async () => {
    const first = recording(new TypeOrmJournal(database.dataSource, database.tables));
    const second = new TypeOrmJournal(await database.openAnother(), database.tables);
    const batchers = [new CommitBatcher(first.journal), new CommitBatcher(second)];
    for (let round = 0; round < 10; round++) {
      const query: EventQuery = [{ tags: [`seat:${round}`] }];
      const { next } = await first.journal.readByQuery(query);
      // Each decision also carries a tag of its own, so that nothing but the shared tag relates them.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => batchers[i % 2]!.append(conditional(query, next, [`seat:${round}`, `by:${i}`]))),
      );
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(AppendConditionConflictError);
      expect((await first.journal.readByQuery(query)).events).toHaveLength(1);
    }
  }, 120_000);

  it('commits exactly the allowed number when decisions retry on conflicts through two batchers', async () => {
    const journals = [new TypeOrmJournal(database.dataSource, database.tables), new TypeOrmJournal(await database.openAnother(), database.tables)];
    const batchers = journals.map((journal) => new CommitBatcher(journal));
    const query: EventQuery = [{ tags: ['owner:ann'] }];
    const limit = 5;
    const decide = async (index: number): Promise<boolean> => {
      const journal = journals[index % 2]!;
      for (let attempt = 0; attempt < 200; attempt++) {
        const { events, next } = await journal.readByQuery(query);
        if (events.length >= limit) return false;
        try {
          await batchers[index % 2]!.append(conditional(query, next, ['owner:ann', `account:${index}`]));
          return true;
        } catch (error) {
          if (!(error instanceof AppendConditionConflictError)) throw error;
        }
      }
      throw new Error('kept conflicting');
    };
    const outcomes = await Promise.all(Array.from({ length: 16 }, (_, i) => decide(i)));
    expect(outcomes.filter(Boolean)).toHaveLength(limit);
    expect((await journals[0]!.readByQuery(query)).events).toHaveLength(limit);
  }, 120_000);

  it('refuses, writing nothing, a batch in which one condition matches another unit\'s events', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const { next } = await journal.readByQuery([{ tags: ['seat:1'] }]);
    const result = await journal.appendConditionalBatch([
      conditional([{ tags: ['seat:1'] }], next, ['seat:1']),
      conditional([{ tags: ['seat:2'] }], next, ['seat:1', 'seat:2']),
    ]);
    expect(result).toBeUndefined();
    expect((await journal.readByQuery([{}])).events).toHaveLength(0);
  });
});
