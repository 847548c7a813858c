import { snapshotStoreContract } from '@chronicle/testing/contracts';
import { TypeOrmSnapshotStore } from '@chronicle/typeorm';
import { openSqliteFile, openSqliteMemory } from '../support/typeorm-test-data-sources.js';

snapshotStoreContract('TypeOrmSnapshotStore on SQLite :memory:', async () => {
  const database = await openSqliteMemory();
  return { store: new TypeOrmSnapshotStore(database.dataSource), close: () => database.close() };
});

snapshotStoreContract('TypeOrmSnapshotStore on a SQLite file', async () => {
  const database = await openSqliteFile();
  return { store: new TypeOrmSnapshotStore(database.dataSource), close: () => database.close() };
});
