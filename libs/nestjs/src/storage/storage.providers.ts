import type { FactoryProvider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  ConfigurationError,
  InMemoryCheckpointStore,
  InMemoryJournal,
  InMemorySagaStore,
  type CheckpointStore,
  type SagaStore,
  InMemoryOutboxStore,
  InMemorySnapshotStore,
  type Journal,
  type OutboxStore,
  type SnapshotStore,
} from '@chronicle/core';
import { TypeOrmCheckpointStore, TypeOrmJournal, TypeOrmOutboxStore, TypeOrmSagaStore, TypeOrmSnapshotStore, runChronicleMigrations } from '@chronicle/typeorm';
import {
  CHRONICLE_CHECKPOINT_STORE,
  CHRONICLE_JOURNAL,
  CHRONICLE_OUTBOX_STORE,
  CHRONICLE_OUTBOX_WAKE_UPS,
  CHRONICLE_SAGA_STORE,
  CHRONICLE_SNAPSHOT_STORE,
  CHRONICLE_SUBSCRIPTION_WAKE_UPS,
} from '../constants/chronicle.constants.js';
import { PostgresOutboxWakeUps } from '../outbox/postgres-outbox-wake-ups.js';
import { EVENT_SOURCING_MODULE_OPTIONS } from '../event-sourcing.module-definition.js';
import type { EventSourcingModuleExtras, EventSourcingModuleOptions } from '../options/event-sourcing-module-options.interface.js';

function requireDataSource(dataSource: DataSource | undefined, extras: EventSourcingModuleExtras): DataSource {
  if (!dataSource) {
    throw new ConfigurationError(
      `EventSourcingModule found no TypeORM DataSource "${extras.dataSource ?? 'default'}": import TypeOrmModule.forRoot(...) ` +
        "in the application, or set storage: 'in-memory'.",
    );
  }
  return dataSource;
}

/**
 * The entities registered by `registerEntities` map onto any driver; what is left to check is the
 * driver the application named, and a schema on SQLite (which would name an attached database).
 */
function checkRegisteredEntities(dataSource: DataSource, extras: EventSourcingModuleExtras): void {
  const registered = extras.registerEntities;
  if (registered === undefined || registered === false) return;
  const actual = dataSource.options.type;
  if (typeof registered === 'string' && registered !== actual) {
    throw new ConfigurationError(
      `EventSourcingModule was told registerEntities: '${registered}', but the DataSource "${extras.dataSource ?? 'default'}" uses the "${actual}" driver: ` +
        'set registerEntities: true to map the entities onto the DataSource\'s own driver.',
    );
  }
  if (actual !== 'postgres' && actual !== 'better-sqlite3') {
    throw new ConfigurationError(
      `registerEntities maps Chronicle's entities onto "postgres" or "better-sqlite3" DataSources, not "${actual}" (DataSource "${extras.dataSource ?? 'default'}").`,
    );
  }
  if (actual === 'better-sqlite3' && extras.tables?.schema !== undefined) {
    throw new ConfigurationError(
      `tables.schema "${extras.tables.schema}" is for PostgreSQL, but the DataSource "${extras.dataSource ?? 'default'}" uses the "better-sqlite3" driver: leave schema unset on SQLite.`,
    );
  }
}

/**
 * The journal and snapshot store providers. The DataSource is injected (optionally, for in-memory
 * storage), so Nest initializes it first; migrations run before the journal is handed out.
 */
export function createStorageProviders(extras: EventSourcingModuleExtras): FactoryProvider[] {
  const dataSourceToken = getDataSourceToken(extras.dataSource);
  return [
    {
      provide: CHRONICLE_JOURNAL,
      inject: [EVENT_SOURCING_MODULE_OPTIONS, { token: dataSourceToken, optional: true }],
      useFactory: async (options: EventSourcingModuleOptions, dataSource?: DataSource): Promise<Journal> => {
        if (options.storage === 'in-memory') return new InMemoryJournal();
        const source = requireDataSource(dataSource, extras);
        checkRegisteredEntities(source, extras);
        if (options.migrationsRun !== false) await runChronicleMigrations(source, extras.tables);
        return new TypeOrmJournal(source, {
          ...extras.tables,
          ...(options.preparedStatements === undefined ? {} : { preparedStatements: options.preparedStatements }),
        });
      },
    },
    {
      provide: CHRONICLE_SNAPSHOT_STORE,
      // Depends on the journal so that migrations have run before snapshots are touched.
      inject: [EVENT_SOURCING_MODULE_OPTIONS, CHRONICLE_JOURNAL, { token: dataSourceToken, optional: true }],
      useFactory: (options: EventSourcingModuleOptions, _journal: Journal, dataSource?: DataSource): SnapshotStore => {
        if (options.storage === 'in-memory') return new InMemorySnapshotStore();
        return new TypeOrmSnapshotStore(requireDataSource(dataSource, extras), extras.tables);
      },
    },
    {
      provide: CHRONICLE_OUTBOX_STORE,
      inject: [EVENT_SOURCING_MODULE_OPTIONS, CHRONICLE_JOURNAL, { token: dataSourceToken, optional: true }],
      useFactory: (options: EventSourcingModuleOptions, journal: Journal, dataSource?: DataSource): OutboxStore => {
        const store =
          options.storage === 'in-memory'
            ? new InMemoryOutboxStore()
            : new TypeOrmOutboxStore(requireDataSource(dataSource, extras), extras.tables);
        // Entries are written in the events' own transaction: that is the transactional outbox.
        journal.addParticipant(store);
        return store;
      },
    },
    {
      provide: CHRONICLE_CHECKPOINT_STORE,
      inject: [EVENT_SOURCING_MODULE_OPTIONS, CHRONICLE_JOURNAL, { token: dataSourceToken, optional: true }],
      useFactory: (options: EventSourcingModuleOptions, _journal: Journal, dataSource?: DataSource): CheckpointStore => {
        if (options.storage === 'in-memory') return new InMemoryCheckpointStore();
        return new TypeOrmCheckpointStore(requireDataSource(dataSource, extras), extras.tables);
      },
    },
    {
      provide: CHRONICLE_SAGA_STORE,
      inject: [EVENT_SOURCING_MODULE_OPTIONS, CHRONICLE_JOURNAL, { token: dataSourceToken, optional: true }],
      useFactory: (options: EventSourcingModuleOptions, _journal: Journal, dataSource?: DataSource): SagaStore => {
        if (options.storage === 'in-memory') return new InMemorySagaStore();
        return new TypeOrmSagaStore(requireDataSource(dataSource, extras), extras.tables);
      },
    },
    {
      provide: CHRONICLE_OUTBOX_WAKE_UPS,
      inject: [EVENT_SOURCING_MODULE_OPTIONS, { token: dataSourceToken, optional: true }],
      useFactory: (options: EventSourcingModuleOptions, dataSource?: DataSource): PostgresOutboxWakeUps | null => {
        if (options.storage === 'in-memory' || dataSource?.options.type !== 'postgres') return null;
        return new PostgresOutboxWakeUps(dataSource, extras.tables);
      },
    },
    {
      provide: CHRONICLE_SUBSCRIPTION_WAKE_UPS,
      inject: [EVENT_SOURCING_MODULE_OPTIONS, { token: dataSourceToken, optional: true }],
      useFactory: (options: EventSourcingModuleOptions, dataSource?: DataSource): PostgresOutboxWakeUps | null => {
        if (options.storage === 'in-memory' || dataSource?.options.type !== 'postgres') return null;
        return new PostgresOutboxWakeUps(dataSource, extras.tables, 'subscriptions');
      },
    },
  ];
}
