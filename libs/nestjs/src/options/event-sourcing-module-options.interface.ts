import type { Type } from '@nestjs/common';
import type {
  ChronicleOutboxOptions,
  ChronicleSubscriptionOptions,
  ClassType,
  CommandGatewayOptions,
  CommandInterceptor,
  KeyStore,
  MasterKeyOptions,
  PostCommitListener,
} from '@chronicle/core';
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
  /**
   * `@DecisionHandler` provider classes (declared in a module's providers, so they may inject
   * configuration) whose commands Chronicle routes from the CommandBus: rules that span streams.
   */
  decisions?: Type<object>[];
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

/**
 * How this instance runs the transactional outbox: the runtime's own settings (`relay`,
 * `pollIntervalMs`, `leaseMs`, `listen`, `retentionMs`, `pruneIntervalMs`), with its defaults.
 */
export type OutboxModuleOptions = ChronicleOutboxOptions;

/**
 * How this instance runs projections and sagas: the runtime's own settings (`run`,
 * `pollIntervalMs`, `leaseMs`, `listen`, `sagaConcurrency`, `deadlinePollIntervalMs`,
 * `sagaRetentionMs`, `pruneIntervalMs`), with its defaults. Instances share the subscriptions
 * through leases; an instance with `run: false` only writes (and can still wait for and rebuild
 * projections).
 */
export type SubscriptionModuleOptions = ChronicleSubscriptionOptions;

/** How the module's start-up steps ride out a database that is restarting or not reachable yet. */
export interface StartupModuleOptions {
  /**
   * How long each start-up step that talks to the database (migrations, the outbox handlers'
   * registration and backfill) retries connection failures, a server that is starting up or shutting
   * down (57P01–57P03) and a pool that cannot connect, with exponential backoff and jitter, before it
   * fails with `StartupTimeoutError`. Other errors (bad credentials, a missing database, a failing
   * migration) fail at once. 0 turns the retries off.
   * @default 60000
   */
  deadlineMs?: number;
}

/**
 * Crypto-shredding of the events' `@PersonalData` fields: where the data keys live and the master
 * keys that wrap them. Give `masterKeys` (the module builds a `TypeOrmKeyStore` over its DataSource
 * and tables, `<prefix>data_keys`, or an `InMemoryKeyStore` with in-memory storage) or a `keyStore`
 * of your own, not both. Then `Chronicle.forget(subject)` and `Chronicle.rotateMasterKey()` work.
 */
export interface PersonalDataModuleOptions {
  /**
   * The master keys that wrap the data keys: `{ current: { id, key }, previous?: [...] }`, each key
   * 32 random bytes (base64 or raw). From a secret store or the environment, never from the
   * database. A missing or malformed key stops start-up with `MasterKeyMissingError`.
   */
  masterKeys?: MasterKeyOptions;
  /** A key store of your own instead of the built-in one (it holds its own master keys). */
  keyStore?: KeyStore;
  /**
   * How long an instance keeps a data key it fetched: the bound on how long a `forget` made by
   * another instance takes to be seen here (the instance that forgets drops the key at once).
   * @default 1000
   */
  keyCacheTtlMs?: number;
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
   * PostgreSQL: write each unit of work, read the feed and run the outbox relay's claims and
   * updates with named prepared statements, parsed and planned once per pooled connection (the
   * feed's and the relay's once per plan generation too). Turn off behind a connection pooler that
   * cannot keep prepared statements (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`).
   * @default true
   */
  preparedStatements?: boolean;
  /** Retries of the start-up steps while the database is unavailable. */
  startup?: StartupModuleOptions;
  /** Queue bounds, cache size and recovery permits of the command gateway. */
  gateway?: CommandGatewayOptions;
  /**
   * How long recorded command outcomes are kept for idempotent retries.
   * @default 604800000 (7 days)
   */
  commandRetentionMs?: number;
  /**
   * How often old command outcomes are pruned (a job of the runtime's own timers; 0 disables it).
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
  /**
   * Crypto-shredding of `@PersonalData` fields. Without it, event classes that declare personal
   * fields are refused at start-up (`ConfigurationError`) rather than stored in plain text.
   * @default off
   */
  personalData?: PersonalDataModuleOptions;
}
