import type { FactoryProvider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ConfigurationError, InMemoryJournal, InMemorySnapshotStore, type Journal, type SnapshotStore } from '@chronicle/core';
import { TypeOrmJournal, TypeOrmSnapshotStore, runChronicleMigrations } from '@chronicle/typeorm';
import { CHRONICLE_JOURNAL, CHRONICLE_SNAPSHOT_STORE } from '../constants/chronicle.constants.js';
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
        if (options.migrationsRun !== false) await runChronicleMigrations(source, extras.tables);
        return new TypeOrmJournal(source, extras.tables);
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
  ];
}
