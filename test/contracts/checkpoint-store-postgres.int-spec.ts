import type { EntityManager } from 'typeorm';
import { manualClock } from '@chronicle/testing';
import { checkpointStoreContract } from '@chronicle/testing/contracts';
import { TypeOrmCheckpointStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema } from '../support/typeorm-test-data-sources.js';

await describePostgres('TypeOrmCheckpointStore on PostgreSQL', () => {
  checkpointStoreContract<EntityManager>('TypeOrmCheckpointStore on PostgreSQL, a fresh schema per test, two pools', async () => {
    const database = await openPostgresSchema();
    // One clock for both "processes": leases are compared across them.
    const clock = manualClock();
    const markers = `"${database.tables.schema}".contract_markers`;
    await database.dataSource.query(`CREATE TABLE ${markers} (marker text NOT NULL PRIMARY KEY)`);
    return {
      store: new TypeOrmCheckpointStore(database.dataSource, { ...database.tables, clock }),
      openSecond: async () => new TypeOrmCheckpointStore(await database.openAnother(), { ...database.tables, clock }),
      now: () => clock.now(),
      advanceTime: async (ms) => clock.advance(ms),
      writeMarker: async (tx, marker) => {
        await tx.query(`INSERT INTO ${markers} (marker) VALUES ($1)`, [marker]);
      },
      readMarkers: async () => ((await database.dataSource.query(`SELECT marker FROM ${markers}`)) as Array<{ marker: string }>).map((row) => row.marker),
      close: () => database.close(),
    };
  });
});
