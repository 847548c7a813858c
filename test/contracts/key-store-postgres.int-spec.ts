import { keyStoreContract } from '@chronicle/testing/contracts';
import { TypeOrmKeyStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';

await describePostgres('TypeOrmKeyStore on PostgreSQL', () => {
  keyStoreContract('TypeOrmKeyStore on PostgreSQL, a fresh schema per test', async (masterKeys) => {
    const database = await openPostgresSchema();
    return {
      store: new TypeOrmKeyStore(database.dataSource, { ...database.tables, masterKeys }),
      reopen: async (keys) => new TypeOrmKeyStore(database.dataSource, { ...database.tables, masterKeys: keys! }),
      close: () => database.close(),
    };
  });
});
