import { manualClock } from '@chronicle/testing';
import { outboxStoreContract } from '@chronicle/testing/contracts';
import { TypeOrmJournal, TypeOrmOutboxStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';

await describePostgres('TypeOrmOutboxStore on PostgreSQL', () => {
  outboxStoreContract('TypeOrmOutboxStore on PostgreSQL, a fresh schema per test, two pools', async () => {
    const database = await openPostgresSchema();
    // One clock for both "processes": leases and backoff are compared across them.
    const clock = manualClock();
    const open = (dataSource = database.dataSource) => {
      const journal = new TypeOrmJournal(dataSource, { ...database.tables, clock });
      const store = new TypeOrmOutboxStore(dataSource, { ...database.tables, clock });
      journal.addParticipant(store);
      return { journal, store };
    };
    return {
      ...open(),
      openSecond: async () => open(await database.openAnother()),
      advanceTime: async (ms) => clock.advance(ms),
      close: () => database.close(),
    };
  });
});
