import { Logger, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { EventBus } from '@nestjs/cqrs';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { EntitySchema } from 'typeorm';
import {
  AggregateCatalog,
  CommandGateway,
  getCommandHandlersMetadata,
  type ClassType,
  type Journal,
  type SnapshotStore,
} from '@chronicle/core';
import { createChronicleEntities } from '@chronicle/typeorm';
import { createAggregateCommandHandler } from './commands/aggregate-command-handler.factory.js';
import { ClassValidatorCommandInterceptor } from './commands/class-validator.interceptor.js';
import {
  CHRONICLE_CHECKPOINT_STORE,
  CHRONICLE_EXTRAS,
  CHRONICLE_JOURNAL,
  CHRONICLE_OUTBOX_STORE,
  CHRONICLE_SAGA_STORE,
  CHRONICLE_SNAPSHOT_STORE,
  CHRONICLE_STORAGE,
} from './constants/chronicle.constants.js';
import { OutboxAdmin } from './outbox/outbox-admin.service.js';
import { OutboxExplorer } from './outbox/outbox.explorer.js';
import { OutboxMonitor } from './outbox/outbox-monitor.service.js';
import { OutboxRelayService } from './outbox/outbox-relay.service.js';
import { ProjectionExplorer } from './projections/projection.explorer.js';
import { SagaExplorer } from './sagas/saga.explorer.js';
import { SubscriptionAdmin } from './subscriptions/subscription-admin.service.js';
import { SubscriptionsService } from './subscriptions/subscriptions.service.js';
import {
  ConfigurableEventSourcingModule,
  EVENT_SOURCING_ASYNC_OPTIONS_TYPE,
  EVENT_SOURCING_MODULE_OPTIONS,
  EVENT_SOURCING_OPTIONS_TYPE,
} from './event-sourcing.module-definition.js';
import { EventBusBridge } from './events/event-bus.bridge.js';
import { ChronicleLifecycle } from './lifecycle/chronicle-lifecycle.service.js';
import type { EventSourcingModuleExtras, EventSourcingModuleOptions } from './options/event-sourcing-module-options.interface.js';
import { createStorageProviders } from './storage/storage.providers.js';

/**
 * Event sourcing for a Nest application: routes the commands of `@Aggregate` classes from
 * `@nestjs/cqrs`'s CommandBus through the command gateway into the journal, relays the
 * `@OutboxHandler`s, runs the `@Projection`s and `@Saga`s, and exposes the gateway, the stores and
 * the admin services for injection.
 *
 * ```ts
 * imports: [
 *   TypeOrmModule.forRoot({ ...dataSourceOptions, autoLoadEntities: true }),
 *   CqrsModule.forRoot(),
 *   EventSourcingModule.forRoot({ aggregates: [Account], registerEntities: true }),
 * ]
 * ```
 */
const entitySets = new Map<string, EntitySchema[]>();

/**
 * The same entity objects for the same tables: `TypeOrmModule.forFeature` keeps a process-wide
 * list per DataSource, and a second `forRoot` (a test, a second app) must not add duplicates.
 */
function entitiesFor(extras: EventSourcingModuleExtras): EntitySchema[] {
  const key = JSON.stringify([extras.tables?.schema ?? null, extras.tables?.tablePrefix ?? null]);
  let entities = entitySets.get(key);
  if (!entities) {
    // No driver named: the entities map onto whichever DataSource they join, which is only known
    // once TypeORM builds it; the storage provider checks the rest when it builds the bundle.
    entities = createChronicleEntities({ ...extras.tables }).all;
    entitySets.set(key, entities);
  }
  return entities;
}

@Module({})
export class EventSourcingModule extends ConfigurableEventSourcingModule {
  /** Configures the module with static options. */
  static forRoot(options: typeof EVENT_SOURCING_OPTIONS_TYPE = {}): DynamicModule {
    return EventSourcingModule.complete(super.forRoot(options), options);
  }

  /** Configures the module with options computed by a factory, class or existing provider. */
  static forRootAsync(options: typeof EVENT_SOURCING_ASYNC_OPTIONS_TYPE): DynamicModule {
    return EventSourcingModule.complete(super.forRootAsync(options), options);
  }

  private static complete(base: DynamicModule, extras: EventSourcingModuleExtras): DynamicModule {
    const aggregates = extras.aggregates ?? [];
    const commandClasses = new Set<ClassType>(aggregates.flatMap((a) => getCommandHandlersMetadata(a).map((h) => h.commandClass)));
    const providers: Provider[] = [
      { provide: CHRONICLE_EXTRAS, useValue: extras },
      {
        provide: AggregateCatalog,
        // Built in a provider so a misconfiguration fails the application's start with a named error.
        useFactory: () => new AggregateCatalog(aggregates, extras.events ?? []),
      },
      ...createStorageProviders(extras),
      {
        provide: CommandGateway,
        inject: [AggregateCatalog, CHRONICLE_JOURNAL, CHRONICLE_SNAPSHOT_STORE, EVENT_SOURCING_MODULE_OPTIONS, { token: EventBus, optional: true }],
        useFactory: (
          catalog: AggregateCatalog,
          journal: Journal,
          snapshots: SnapshotStore,
          options: EventSourcingModuleOptions,
          eventBus?: EventBus,
        ) =>
          new CommandGateway(
            {
              catalog,
              journal,
              snapshots,
              logger: new Logger(CommandGateway.name),
              interceptors: options.validateCommands === false ? [] : [new ClassValidatorCommandInterceptor()],
              listeners: options.publishEvents !== false && eventBus ? [new EventBusBridge(eventBus)] : [],
            },
            options.gateway,
          ),
      },
      ChronicleLifecycle,
      OutboxExplorer,
      OutboxRelayService,
      OutboxAdmin,
      OutboxMonitor,
      ProjectionExplorer,
      SagaExplorer,
      SubscriptionsService,
      SubscriptionAdmin,
      ...[...commandClasses].map(createAggregateCommandHandler),
    ];
    const imports = [
      DiscoveryModule,
      ...(extras.registerEntities ? [TypeOrmModule.forFeature(entitiesFor(extras), extras.dataSource)] : []),
    ];
    return {
      ...base,
      global: extras.isGlobal ?? true,
      imports: [...(base.imports ?? []), ...imports],
      providers: [...(base.providers ?? []), ...providers],
      exports: [
        CommandGateway,
        AggregateCatalog,
        CHRONICLE_STORAGE,
        CHRONICLE_JOURNAL,
        CHRONICLE_SNAPSHOT_STORE,
        CHRONICLE_OUTBOX_STORE,
        EVENT_SOURCING_MODULE_OPTIONS,
        OutboxRelayService,
        OutboxAdmin,
        OutboxMonitor,
        CHRONICLE_CHECKPOINT_STORE,
        CHRONICLE_SAGA_STORE,
        SubscriptionsService,
        SubscriptionAdmin,
      ],
    };
  }
}
