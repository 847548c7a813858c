import { eventQueryContract } from '@chronicle/testing/contracts';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { openSqliteFile, openSqliteMemory } from '../support/typeorm-test-data-sources.js';

eventQueryContract('TypeOrmJournal on SQLite :memory:', async () => {
  const database = await openSqliteMemory();
  return { journal: new TypeOrmJournal(database.dataSource), close: () => database.close() };
});

eventQueryContract('TypeOrmJournal on a SQLite file in WAL mode, two DataSources', async () => {
  const database = await openSqliteFile({ wal: true });
  return {
    journal: new TypeOrmJournal(database.dataSource),
    openSecond: async () => new TypeOrmJournal(await database.openAnother()),
    close: () => database.close(),
  };
});
