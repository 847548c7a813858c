import { eventQueryContract } from '@chronicle/testing/contracts';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';

await describePostgres('TypeOrmJournal on PostgreSQL: queries and conditional appends', () => {
  eventQueryContract('TypeOrmJournal on PostgreSQL, a fresh schema per test, two pools', async () => {
    const database = await openPostgresSchema();
    return {
      journal: new TypeOrmJournal(database.dataSource, database.tables),
      openSecond: async () => new TypeOrmJournal(await database.openAnother(), database.tables),
      close: () => database.close(),
    };
  });
});
