import type { DataSource, EntityManager } from 'typeorm';
import { ConfigurationError, type ChronicleLogger, type ChronicleStorage, type Clock } from '@chronicle/core';
import { dialectOf } from '../dialects/dialect-of.js';
import { TypeOrmJournal } from '../journal/typeorm-journal.js';
import { runChronicleMigrations } from '../migrations/chronicle-migrator.js';
import { commitNotifyChannel } from '../notifications/commit-notify-channel.js';
import { PostgresCommitNotifications } from '../notifications/postgres-commit-notifications.js';
import { TypeOrmOutboxStore } from '../outbox/typeorm-outbox-store.js';
import { TypeOrmSagaStore } from '../sagas/typeorm-saga-store.js';
import { TypeOrmSnapshotStore } from '../snapshots/typeorm-snapshot-store.js';
import { TypeOrmCheckpointStore } from '../subscriptions/typeorm-checkpoint-store.js';
import { resolveChronicleTables, type ChronicleTableOptions } from '../table-options.js';

/** Options of {@link createTypeOrmStorage}. */
export interface TypeOrmStorageOptions extends ChronicleTableOptions {
  /**
   * PostgreSQL: write each unit of work, read the feed and run the outbox relay's claims and
   * updates with named prepared statements. Turn off behind a pooler that cannot keep prepared
   * statements (PgBouncer in transaction mode before 1.21).
   * @default true
   */
  preparedStatements?: boolean;
  /**
   * PostgreSQL: every commit NOTIFYs one channel (`commitNotifyChannel`) and `notifications` LISTENs
   * to it on one dedicated connection. Off: `notifications` is null and waiting parts only poll.
   * @default true
   */
  notifications?: boolean;
  /**
   * PostgreSQL with notifications on: whether a commit of events alone notifies the channel (that
   * wakes the projections and sagas of every instance). Off, only commits that wrote outbox
   * entries notify: for applications in which no instance runs projections or sagas, whose
   * commands then skip a NOTIFY (the server serializes the commits of notifying transactions).
   * @default true
   */
  notifyEvents?: boolean;
  /** `application_name` of the listening connection. @default 'chronicle-listener' */
  listenerApplicationName?: string;
  /** Where the listening connection reports losses and reconnects. @default consoleLogger */
  logger?: ChronicleLogger;
  /** Time source of the stores' leases and timestamps. @default systemClock */
  clock?: Clock;
}

/** The TypeORM stores, wired as {@link createTypeOrmStorage} returns them. */
export interface TypeOrmStorage extends ChronicleStorage<EntityManager> {
  readonly dataSource: DataSource;
  readonly journal: TypeOrmJournal;
  readonly snapshots: TypeOrmSnapshotStore;
  readonly outbox: TypeOrmOutboxStore;
  readonly checkpoints: TypeOrmCheckpointStore;
  readonly sagas: TypeOrmSagaStore;
  /** PostgreSQL with notifications on: the one LISTEN connection; otherwise null (polling only). */
  readonly notifications: PostgresCommitNotifications | null;
  /** The channel notified on every commit (PostgreSQL with notifications on), else undefined. */
  readonly channel: string | undefined;
}

/**
 * Every Chronicle store over one TypeORM DataSource (PostgreSQL or better-sqlite3), wired: the
 * outbox store is the journal's unit-of-work participant (entries commit with their events); on
 * PostgreSQL the journal and the outbox store notify one channel, `commitNotifyChannel(tables)`,
 * which `notifications` listens to on one connection serving the relay and the subscriptions.
 *
 * No I/O here (the DataSource need not be initialized yet): `migrate()` creates or upgrades the
 * tables, in order, under a lock (`runChronicleMigrations`); the listening connection opens when
 * `notifications.start()` is called (the runtime does it in `start()`).
 */
export function createTypeOrmStorage(dataSource: DataSource, options: TypeOrmStorageOptions = {}): TypeOrmStorage {
  if (dataSource === null || typeof dataSource !== 'object' || typeof dataSource.options !== 'object' || dataSource.options === null) {
    throw new ConfigurationError('createTypeOrmStorage needs a TypeORM DataSource (new DataSource({ type: "postgres" | "better-sqlite3", ... })).');
  }
  const dialect = dialectOf(dataSource);
  const tables: ChronicleTableOptions = {
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }),
  };
  // Refuses a bad schema or prefix now, by name, before anything is built.
  resolveChronicleTables(tables, dialect);
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  const channel = dialect.name === 'postgres' && options.notifications !== false ? commitNotifyChannel(tables) : undefined;

  const prepared = options.preparedStatements === undefined ? {} : { preparedStatements: options.preparedStatements };
  const journal = new TypeOrmJournal(dataSource, { ...tables, ...clock, ...prepared });
  // Every instance notifies, whether or not it runs the relay or subscriptions: another one may.
  if (channel !== undefined && options.notifyEvents !== false) journal.enableNotifications(channel);
  const outbox = new TypeOrmOutboxStore(dataSource, { ...tables, ...clock, ...prepared, ...(channel === undefined ? {} : { notifyChannel: channel }) });
  // Entries are written in the events' own transaction: that is the transactional outbox.
  journal.addParticipant(outbox);

  return {
    dataSource,
    journal,
    snapshots: new TypeOrmSnapshotStore(dataSource, tables),
    outbox,
    checkpoints: new TypeOrmCheckpointStore(dataSource, { ...tables, ...clock }),
    sagas: new TypeOrmSagaStore(dataSource, { ...tables, ...clock }),
    notifications:
      channel === undefined
        ? null
        : new PostgresCommitNotifications(dataSource, {
            channel,
            ...(options.logger === undefined ? {} : { logger: options.logger }),
            ...(options.listenerApplicationName === undefined ? {} : { applicationName: options.listenerApplicationName }),
          }),
    channel,
    async migrate(): Promise<void> {
      if (!dataSource.isInitialized) {
        throw new ConfigurationError('The DataSource given to createTypeOrmStorage is not initialized: await dataSource.initialize() before migrate() or start().');
      }
      await runChronicleMigrations(dataSource, tables);
    },
  };
}
