import { snapshotStoreContract } from '@chronicle/testing/contracts';
import { TypeOrmSnapshotStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';

await describePostgres('TypeOrmSnapshotStore on PostgreSQL', () => {
  snapshotStoreContract('TypeOrmSnapshotStore on PostgreSQL, a fresh schema per test', async () => {
    const database = await openPostgresSchema();
    return { store: new TypeOrmSnapshotStore(database.dataSource, database.tables), close: () => database.close() };
  });
});
