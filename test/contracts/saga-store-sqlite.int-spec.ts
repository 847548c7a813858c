import type { EntityManager } from 'typeorm';
import { manualClock } from '@chronicle/testing';
import { sagaStoreContract, type SagaStoreContractHarness } from '@chronicle/testing/contracts';
import { runInTransaction, TypeOrmSagaStore } from '@chronicle/typeorm';
import { openSqliteFile, openSqliteMemory, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** The store over one database with a manual clock; units of work are Chronicle transactions. */
function harnessOver(database: TestDatabase, second: boolean): SagaStoreContractHarness<EntityManager> {
  const clock = manualClock();
  return {
    store: new TypeOrmSagaStore(database.dataSource, { ...database.tables, clock }),
    ...(second ? { openSecond: async () => new TypeOrmSagaStore(await database.openAnother(), { ...database.tables, clock }) } : {}),
    now: () => clock.now(),
    advanceTime: async (ms) => clock.advance(ms),
    transaction: (work) => runInTransaction(database.dataSource, work),
    close: () => database.close(),
  };
}

sagaStoreContract('TypeOrmSagaStore on SQLite :memory:', async () => harnessOver(await openSqliteMemory(), false));

sagaStoreContract('TypeOrmSagaStore on a SQLite file in WAL mode with a table prefix, two DataSources', async () =>
  harnessOver(await openSqliteFile({ wal: true, tables: { tablePrefix: 'es_' } }), true),
);
