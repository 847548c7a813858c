import type { EntityManager } from 'typeorm';
import { manualClock } from '@chronicle/testing';
import { sagaStoreContract } from '@chronicle/testing/contracts';
import { runInTransaction, TypeOrmSagaStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';

await describePostgres('TypeOrmSagaStore on PostgreSQL', () => {
  sagaStoreContract<EntityManager>('TypeOrmSagaStore on PostgreSQL, a fresh schema per test, two pools', async () => {
    const database = await openPostgresSchema();
    // One clock for both "processes": due times and leases are compared across them.
    const clock = manualClock();
    return {
      store: new TypeOrmSagaStore(database.dataSource, { ...database.tables, clock }),
      openSecond: async () => new TypeOrmSagaStore(await database.openAnother(), { ...database.tables, clock }),
      now: () => clock.now(),
      advanceTime: async (ms) => clock.advance(ms),
      transaction: (work) => runInTransaction(database.dataSource, work),
      close: () => database.close(),
    };
  });
});
