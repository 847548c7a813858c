import { manualClock } from '@chronicle/testing';
import { outboxStoreContract, type OutboxStoreContractHarness } from '@chronicle/testing/contracts';
import { TypeOrmJournal, TypeOrmOutboxStore } from '@chronicle/typeorm';
import { openSqliteFile, openSqliteMemory, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** The journal and store over one database, sharing a manual clock, with the store in the unit of work. */
function harnessOver(database: TestDatabase, second: boolean): OutboxStoreContractHarness {
  const clock = manualClock();
  const journal = new TypeOrmJournal(database.dataSource, { ...database.tables, clock });
  const store = new TypeOrmOutboxStore(database.dataSource, { ...database.tables, clock });
  journal.addParticipant(store);
  return {
    journal,
    store,
    ...(second
      ? {
          openSecond: async () => {
            const dataSource = await database.openAnother();
            const otherJournal = new TypeOrmJournal(dataSource, { ...database.tables, clock });
            const otherStore = new TypeOrmOutboxStore(dataSource, { ...database.tables, clock });
            otherJournal.addParticipant(otherStore);
            return { journal: otherJournal, store: otherStore };
          },
        }
      : {}),
    advanceTime: async (ms) => clock.advance(ms),
    close: () => database.close(),
  };
}

outboxStoreContract('TypeOrmOutboxStore on SQLite :memory:', async () => harnessOver(await openSqliteMemory(), false));

outboxStoreContract('TypeOrmOutboxStore on a SQLite file, two DataSources', async () => harnessOver(await openSqliteFile(), true));

outboxStoreContract('TypeOrmOutboxStore on a SQLite file in WAL mode with a table prefix, two DataSources', async () =>
  harnessOver(await openSqliteFile({ wal: true, tables: { tablePrefix: 'es_' } }), true),
);
