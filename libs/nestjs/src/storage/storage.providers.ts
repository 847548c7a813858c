import { Logger, type FactoryProvider } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Chronicle, ConfigurationError, createInMemoryStorage, type ChronicleStorage } from '@chronicle/core';
import { getProjectionMetadata, getSagaMetadata } from '@chronicle/core/internal';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import {
  CHRONICLE_CHECKPOINT_STORE,
  CHRONICLE_JOURNAL,
  CHRONICLE_OUTBOX_STORE,
  CHRONICLE_SAGA_STORE,
  CHRONICLE_SNAPSHOT_STORE,
  CHRONICLE_STORAGE,
} from '../constants/chronicle.constants.js';
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

/** Whether a provider of the application is a `@Projection` or a `@Saga` (read from its class). */
function declaresSubscriptions(discovery: DiscoveryService): boolean {
  return discovery.getProviders().some(({ metatype }) => {
    if (typeof metatype !== 'function') return false;
    return getProjectionMetadata(metatype) !== undefined || getSagaMetadata(metatype) !== undefined;
  });
}

/** Derives one store's token from the runtime, as `@nestjs/typeorm` derives its EntityManager from the DataSource. */
function fromStorage(token: symbol, pick: (storage: ChronicleStorage) => unknown): FactoryProvider {
  return { provide: token, inject: [Chronicle], useFactory: (chronicle: Chronicle) => pick(chronicle.storage) };
}

/**
 * The storage bundle the runtime is built on, and the store tokens derived from the runtime. The
 * bundle is built by `createTypeOrmStorage` (or `createInMemoryStorage`), already wired: the outbox
 * store is the journal's participant, and on PostgreSQL one channel is notified and listened to on
 * one connection. Building it does no I/O: the runtime's `start()` migrates and listens.
 */
export function createStorageProviders(extras: EventSourcingModuleExtras): FactoryProvider[] {
  return [
    {
      provide: CHRONICLE_STORAGE,
      // The DataSource is injected (optionally, for in-memory storage), so Nest initializes it first.
      inject: [EVENT_SOURCING_MODULE_OPTIONS, DiscoveryService, { token: getDataSourceToken(extras.dataSource), optional: true }],
      useFactory: (options: EventSourcingModuleOptions, discovery: DiscoveryService, dataSource?: DataSource): ChronicleStorage => {
        if (options.storage === 'in-memory') return createInMemoryStorage();
        const source = requireDataSource(dataSource, extras);
        checkRegisteredEntities(source, extras);
        // Nobody listens when both sides turned their wake-ups off: commits then notify no channel either.
        const listen = options.outbox?.listen !== false || options.subscriptions?.listen !== false;
        return createTypeOrmStorage(source, {
          ...extras.tables,
          ...(options.preparedStatements === undefined ? {} : { preparedStatements: options.preparedStatements }),
          notifications: listen,
          // Commits of events alone notify only where the application declares projections or sagas
          // (every instance runs the same application, running them or not): the classes are known
          // before their instances, so this needs no instance.
          notifyEvents: options.subscriptions?.listen !== false && declaresSubscriptions(discovery),
          logger: new Logger('ChronicleNotifications'),
        }) as ChronicleStorage;
      },
    },
    fromStorage(CHRONICLE_JOURNAL, (storage) => storage.journal),
    fromStorage(CHRONICLE_SNAPSHOT_STORE, (storage) => storage.snapshots),
    fromStorage(CHRONICLE_OUTBOX_STORE, (storage) => storage.outbox),
    fromStorage(CHRONICLE_CHECKPOINT_STORE, (storage) => storage.checkpoints),
    fromStorage(CHRONICLE_SAGA_STORE, (storage) => storage.sagas),
  ];
}
