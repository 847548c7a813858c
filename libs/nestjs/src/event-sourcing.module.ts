import { Logger, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CommandBus, EventBus } from '@nestjs/cqrs';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { EntitySchema } from 'typeorm';
import {
  AggregateCatalog,
  Chronicle,
  CommandGateway,
  createChronicle,
  withCommandMetadata,
  type ChronicleOptions,
  type ChronicleStorage,
  type ClassType,
  type CommandResult,
  type KeyStore,
} from '@chronicle/core';
import { decisionHandlerEventClasses, getCommandHandlersMetadata, getDecidesMetadata, refusePlainPersonalData } from '@chronicle/core/internal';
import { createChronicleEntities } from '@chronicle/typeorm';
import { createAggregateCommandHandler } from './commands/aggregate-command-handler.factory.js';
import { ClassValidatorCommandInterceptor } from './commands/class-validator.interceptor.js';
import {
  CHRONICLE_CHECKPOINT_STORE,
  CHRONICLE_EXTRAS,
  CHRONICLE_JOURNAL,
  CHRONICLE_KEY_STORE,
  CHRONICLE_OUTBOX_STORE,
  CHRONICLE_SAGA_STORE,
  CHRONICLE_SNAPSHOT_STORE,
  CHRONICLE_STORAGE,
} from './constants/chronicle.constants.js';
import { ChronicleDiscovery } from './discovery/chronicle-discovery.service.js';
import { OutboxAdmin } from './outbox/outbox-admin.service.js';
import { OutboxExplorer } from './outbox/outbox.explorer.js';
import { OutboxMonitor } from './outbox/outbox-monitor.service.js';
import { OutboxRelayService } from './outbox/outbox-relay.service.js';
import { ProjectionExplorer } from './projections/projection.explorer.js';
import { SagaExplorer } from './sagas/saga.explorer.js';
import { DecisionExplorer } from './decisions/decision.explorer.js';
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
import { runStartupStep } from './lifecycle/startup-step.js';
import type { EventSourcingModuleExtras, EventSourcingModuleOptions } from './options/event-sourcing-module-options.interface.js';
import { createKeyStoreProvider } from './personal-data/key-store.provider.js';
import { createStorageProviders } from './storage/storage.providers.js';

/** The module's runtime settings as `createChronicle` takes them (the defaults are resolved there, once). */
function toChronicleOptions(options: EventSourcingModuleOptions): ChronicleOptions {
  return {
    migrate: options.storage !== 'in-memory' && options.migrationsRun !== false,
    ...(options.gateway === undefined ? {} : { gateway: options.gateway }),
    ...(options.commandRetentionMs === undefined ? {} : { commandRetentionMs: options.commandRetentionMs }),
    ...(options.pruneIntervalMs === undefined ? {} : { pruneIntervalMs: options.pruneIntervalMs }),
    ...(options.outbox === undefined ? {} : { outbox: options.outbox }),
    ...(options.subscriptions === undefined ? {} : { subscriptions: options.subscriptions }),
  };
}

/**
 * The one provider that builds Chronicle: `createChronicle` over the storage bundle, with Nest's
 * pieces passed in (a Nest `Logger` per component, the CommandBus as the sagas' dispatcher, the
 * class-validator interceptor and the EventBus bridge, the application's interceptors, listeners
 * and discovered components through `ChronicleDiscovery`). No I/O: `ChronicleLifecycle` starts it.
 */
const chronicleProvider: Provider = {
  provide: Chronicle,
  inject: [
    CHRONICLE_STORAGE,
    EVENT_SOURCING_MODULE_OPTIONS,
    CHRONICLE_EXTRAS,
    CHRONICLE_KEY_STORE,
    ChronicleDiscovery,
    { token: EventBus, optional: true },
    { token: CommandBus, optional: true },
  ],
  useFactory: (
    storage: ChronicleStorage,
    options: EventSourcingModuleOptions,
    extras: EventSourcingModuleExtras,
    keyStore: KeyStore | null,
    discovery: ChronicleDiscovery,
    eventBus?: EventBus,
    commandBus?: CommandBus,
  ): Chronicle => {
    if (keyStore === null) {
      // Said in the module's words (createChronicle would refuse too, naming itself). The decision
      // handlers' events count: their instances reach the runtime only at start, through
      // `components`, and are checked from their classes here, when the module is built.
      const decisionEvents = (extras.decisions ?? []).flatMap((handlerClass) => decisionHandlerEventClasses(handlerClass));
      refusePlainPersonalData(
        new AggregateCatalog(extras.aggregates ?? [], [...(extras.events ?? []), ...decisionEvents]).events,
        'EventSourcingModule',
        'Give EventSourcingModule `personalData: { masterKeys: { current: { id, key } } }` (32 random bytes, base64, from your secret store).',
      );
    }
    return createChronicle({
      storage,
      aggregates: extras.aggregates ?? [],
      events: extras.events ?? [],
      interceptors: [...(options.validateCommands === false ? [] : [new ClassValidatorCommandInterceptor()]), ...discovery.interceptors],
      listeners: [...(options.publishEvents !== false && eventBus ? [new EventBusBridge(eventBus)] : []), ...discovery.listeners],
      ...(commandBus === undefined
        ? {}
        : { dispatcher: (command: object, metadata) => commandBus.execute(withCommandMetadata(command, metadata)) as Promise<CommandResult> }),
      logger: (context) => new Logger(context),
      components: () => discovery.components(),
      startupStep: (step, work, signal) => runStartupStep(options, step, work, signal),
      options: toChronicleOptions(options),
      ...(keyStore === null
        ? {}
        : {
            personalData: {
              keyStore,
              ...(options.personalData?.keyCacheTtlMs === undefined ? {} : { keyCacheTtlMs: options.personalData.keyCacheTtlMs }),
            },
          }),
    });
  },
};

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
    const commandClasses = new Set<ClassType>([
      ...aggregates.flatMap((a) => getCommandHandlersMetadata(a).map((h) => h.commandClass)),
      // A decision handler's commands are routed the same way; its instance comes from Nest at start.
      ...(extras.decisions ?? []).flatMap((d) => getDecidesMetadata(d).map((h) => h.commandClass)),
    ]);
    const providers: Provider[] = [
      { provide: CHRONICLE_EXTRAS, useValue: extras },
      ...createStorageProviders(extras),
      createKeyStoreProvider(extras),
      OutboxExplorer,
      ProjectionExplorer,
      SagaExplorer,
      DecisionExplorer,
      ChronicleDiscovery,
      chronicleProvider,
      // Derived from the runtime, as @nestjs/typeorm derives its EntityManager from the DataSource.
      { provide: CommandGateway, inject: [Chronicle], useFactory: (chronicle: Chronicle) => chronicle.gateway },
      { provide: AggregateCatalog, inject: [Chronicle], useFactory: (chronicle: Chronicle) => chronicle.catalog },
      ChronicleLifecycle,
      OutboxRelayService,
      OutboxAdmin,
      OutboxMonitor,
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
        Chronicle,
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
        CHRONICLE_KEY_STORE,
        SubscriptionsService,
        SubscriptionAdmin,
      ],
    };
  }
}
