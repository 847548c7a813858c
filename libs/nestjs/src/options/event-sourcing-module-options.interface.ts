import type { Type } from '@nestjs/common';
import type { ClassType, CommandGatewayOptions, CommandInterceptor, PostCommitListener } from '@chronicle/core';
import type { ChronicleTableOptions } from '@chronicle/typeorm';

/**
 * Settings that shape the application's classes and tables, fixed when the module is declared
 * (the same for `forRoot` and `forRootAsync`).
 */
export interface EventSourcingModuleExtras {
  /** The `@Aggregate` classes whose commands Chronicle routes from the CommandBus. */
  aggregates?: ClassType[];
  /** Event classes no aggregate applies but that must still be readable (sagas, projections). */
  events?: ClassType[];
  /** Table schema (PostgreSQL) and prefix. @default { tablePrefix: 'chronicle_' } */
  tables?: ChronicleTableOptions;
  /** Name of the TypeORM DataSource to use. @default the default DataSource */
  dataSource?: string;
  /**
   * Registers Chronicle's entities with `TypeOrmModule.forFeature`, so a DataSource with
   * `autoLoadEntities: true` knows them. They map onto the DataSource's own driver (PostgreSQL or
   * better-sqlite3): `true` is enough. Naming a driver states what the DataSource must be, checked
   * at start-up (a mismatch is a `ConfigurationError` naming both). Leave it off when the app
   * lists `createChronicleEntities(...)` in its DataSource by hand, or uses in-memory storage.
   * @default false
   */
  registerEntities?: boolean | 'postgres' | 'better-sqlite3';
  /**
   * Providers (declared anywhere in the application) that inspect or reject every command before
   * it is queued, in order, after class-validator validation.
   */
  interceptors?: Type<CommandInterceptor>[];
  /** Providers told about every commit, after it; their errors are logged and isolated. */
  listeners?: Type<PostCommitListener>[];
  /** Make the module's providers visible everywhere. @default true */
  isGlobal?: boolean;
}

/** How this instance runs the transactional outbox. */
export interface OutboxModuleOptions {
  /**
   * Run the relay in this instance. An instance with `relay: false` still writes entries for its
   * handlers; others publish them.
   * @default true
   */
  relay?: boolean;
  /** Polling period of each handler (the fallback when no NOTIFY arrives). @default 1000 */
  pollIntervalMs?: number;
  /** Lease of a claimed batch; extended while a slow publish runs. @default 30000 */
  leaseMs?: number;
  /** Wake the relay on PostgreSQL NOTIFY. @default true */
  listen?: boolean;
  /** How long published entries are kept. @default 604800000 (7 days) */
  retentionMs?: number;
  /** How often published entries past retention are deleted (0 disables it). @default 3600000 */
  pruneIntervalMs?: number;
}

/** How this instance runs projections and sagas. */
export interface SubscriptionModuleOptions {
  /**
   * Run the `@Projection` and `@Saga` subscriptions and fire saga deadlines in this instance.
   * Instances share them through leases (one active runner per subscription); an instance with
   * `run: false` only writes (and can still wait for and rebuild projections).
   * @default true
   */
  run?: boolean;
  /** Polling period of each subscription (the fallback when no NOTIFY arrives). @default 1000 */
  pollIntervalMs?: number;
  /** Lease of a subscription; another instance takes it over this long after its holder died. @default 10000 */
  leaseMs?: number;
  /** Wake subscriptions on PostgreSQL NOTIFY (the journal notifies on every write). @default true */
  listen?: boolean;
  /** Saga instances whose events one saga handles at once. @default 16 */
  sagaConcurrency?: number;
  /** Polling period of saga deadlines. @default 1000 */
  deadlinePollIntervalMs?: number;
  /** How long completed saga instances stay as tombstones (a redelivered start is ignored meanwhile). @default 604800000 (7 days) */
  sagaRetentionMs?: number;
  /** How often completed saga instances past retention are deleted (0 disables it). @default 3600000 */
  pruneIntervalMs?: number;
}

/** Runtime settings, which `forRootAsync` can compute (from ConfigService, say). */
export interface EventSourcingModuleOptions {
  /**
   * Where events live: the TypeORM DataSource, or memory (tests and prototypes only).
   * @default 'typeorm'
   */
  storage?: 'typeorm' | 'in-memory';
  /**
   * Apply Chronicle's migrations at start-up (under a lock, so instances starting together do
   * not race). Turn off when migrations run as a deployment step.
   * @default true
   */
  migrationsRun?: boolean;
  /**
   * PostgreSQL: write each unit of work with a named prepared statement, parsed and planned once
   * per pooled connection. Turn off behind a connection pooler that cannot keep prepared
   * statements (PgBouncer in transaction mode before 1.21, or without `max_prepared_statements`).
   * @default true
   */
  preparedStatements?: boolean;
  /** Queue bounds, cache size and recovery permits of the command gateway. */
  gateway?: CommandGatewayOptions;
  /**
   * How long recorded command outcomes are kept for idempotent retries.
   * @default 604800000 (7 days)
   */
  commandRetentionMs?: number;
  /**
   * How often old command outcomes are pruned (a job in `@nestjs/schedule`'s SchedulerRegistry;
   * 0 disables it).
   * @default 3600000 (1 hour)
   */
  pruneIntervalMs?: number;
  /**
   * Validate commands with class-validator before they run (unknown properties are refused).
   * @default true
   */
  validateCommands?: boolean;
  /** The transactional outbox (handlers are the `@OutboxHandler` providers). */
  outbox?: OutboxModuleOptions;
  /** Projections and sagas (the `@Projection` and `@Saga` providers). */
  subscriptions?: SubscriptionModuleOptions;
  /**
   * Publish committed events on `@nestjs/cqrs`'s EventBus (in-process, best effort).
   * @default true
   */
  publishEvents?: boolean;
}
