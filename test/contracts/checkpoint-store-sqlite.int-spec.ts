import type { EntityManager } from 'typeorm';
import { manualClock } from '@chronicle/testing';
import { checkpointStoreContract, type CheckpointStoreContractHarness } from '@chronicle/testing/contracts';
import { runRead, TypeOrmCheckpointStore } from '@chronicle/typeorm';
import { openSqliteFile, openSqliteMemory, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** The store over one database with a manual clock, and a marker table standing in for a read model. */
async function harnessOver(database: TestDatabase, second: boolean): Promise<CheckpointStoreContractHarness<EntityManager>> {
  const clock = manualClock();
  await database.dataSource.query('CREATE TABLE contract_markers (marker TEXT NOT NULL PRIMARY KEY)');
  return {
    store: new TypeOrmCheckpointStore(database.dataSource, { ...database.tables, clock }),
    ...(second
      ? { openSecond: async () => new TypeOrmCheckpointStore(await database.openAnother(), { ...database.tables, clock }) }
      : {}),
    now: () => clock.now(),
    advanceTime: async (ms) => clock.advance(ms),
    writeMarker: async (tx, marker) => {
      await tx.query('INSERT INTO contract_markers (marker) VALUES (?)', [marker]);
    },
    readMarkers: async () =>
      runRead(database.dataSource, async (manager) =>
        ((await manager.query('SELECT marker FROM contract_markers')) as Array<{ marker: string }>).map((row) => row.marker),
      ),
    close: () => database.close(),
  };
}

checkpointStoreContract('TypeOrmCheckpointStore on SQLite :memory:', async () => harnessOver(await openSqliteMemory(), false));

checkpointStoreContract('TypeOrmCheckpointStore on a SQLite file in WAL mode with a table prefix, two DataSources', async () =>
  harnessOver(await openSqliteFile({ wal: true, tables: { tablePrefix: 'es_' } }), true),
);
