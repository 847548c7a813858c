import type { FactoryProvider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ConfigurationError, InMemoryKeyStore, MasterKeyMissingError, type KeyStore } from '@chronicle/core';
import { TypeOrmKeyStore } from '@chronicle/typeorm';
import { CHRONICLE_KEY_STORE } from '../constants/chronicle.constants.js';
import { EVENT_SOURCING_MODULE_OPTIONS } from '../event-sourcing.module-definition.js';
import type { EventSourcingModuleExtras, EventSourcingModuleOptions } from '../options/event-sourcing-module-options.interface.js';

/**
 * The key store of the module's `personalData` option, built without I/O: the application's own
 * `keyStore`, or from `masterKeys` a `TypeOrmKeyStore` over the module's DataSource and tables
 * (`InMemoryKeyStore` with in-memory storage). The master keys are checked here, so a missing or
 * malformed one stops the application before anything starts (`MasterKeyMissingError`). `null`
 * without the option: the runtime then refuses `@PersonalData` events.
 */
export function createKeyStoreProvider(extras: EventSourcingModuleExtras): FactoryProvider {
  return {
    provide: CHRONICLE_KEY_STORE,
    inject: [EVENT_SOURCING_MODULE_OPTIONS, { token: getDataSourceToken(extras.dataSource), optional: true }],
    useFactory: (options: EventSourcingModuleOptions, dataSource?: DataSource): KeyStore | null => {
      const personalData = options.personalData;
      if (personalData === undefined) return null;
      if (personalData === null || typeof personalData !== 'object') {
        throw new ConfigurationError('EventSourcingModule `personalData` must be an object: { masterKeys } or { keyStore }.');
      }
      if (personalData.keyStore !== undefined) {
        if (personalData.masterKeys !== undefined) {
          throw new ConfigurationError('EventSourcingModule `personalData` takes `masterKeys` or `keyStore`, not both: the key store holds its own master keys.');
        }
        if (typeof personalData.keyStore?.keyFor !== 'function') {
          throw new ConfigurationError('EventSourcingModule `personalData.keyStore` must be a KeyStore (InMemoryKeyStore, TypeOrmKeyStore or your own).');
        }
        return personalData.keyStore;
      }
      if (personalData.masterKeys === undefined) {
        throw new MasterKeyMissingError(
          'EventSourcingModule `personalData` has no `masterKeys`: give it { current: { id, key } } with 32 random bytes in base64 from your secret store ' +
            '(forRootAsync reads it from ConfigService), or a `keyStore`.',
        );
      }
      if (options.storage === 'in-memory') return new InMemoryKeyStore({ masterKeys: personalData.masterKeys });
      if (!dataSource) {
        throw new ConfigurationError(
          `EventSourcingModule found no TypeORM DataSource "${extras.dataSource ?? 'default'}" for the data keys: import TypeOrmModule.forRoot(...), or set storage: 'in-memory'.`,
        );
      }
      return new TypeOrmKeyStore(dataSource, { ...extras.tables, masterKeys: personalData.masterKeys });
    },
  };
}
