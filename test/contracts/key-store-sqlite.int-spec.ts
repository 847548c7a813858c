import { keyStoreContract } from '@chronicle/testing/contracts';
import { TypeOrmKeyStore } from '@chronicle/typeorm';
import { openSqliteFile } from '../support/typeorm-test-data-sources.js';

keyStoreContract('TypeOrmKeyStore on a SQLite file', async (masterKeys) => {
  const database = await openSqliteFile();
  return {
    store: new TypeOrmKeyStore(database.dataSource, { ...database.tables, masterKeys }),
    reopen: async (keys) => new TypeOrmKeyStore(database.dataSource, { ...database.tables, masterKeys: keys! }),
    close: () => database.close(),
  };
});
