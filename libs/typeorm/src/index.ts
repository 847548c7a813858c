// @chronicle/typeorm: the public API. Internals (mutexes, the SQLite write lock, SQL helpers, the
// dialects, the one-statement append, row mappers) are not exported; specs import them by relative
// path. `pg` is loaded only on PostgreSQL, when a notification listener starts.
// Tables
export * from './table-options.js';
// Entities
export * from './entities/chronicle-entity-options.js';
export * from './entities/stored-record.js';
export * from './entities/stream.entity.js';
export * from './entities/event.entity.js';
export * from './entities/command.entity.js';
export * from './entities/snapshot.entity.js';
export * from './entities/outbox.entity.js';
export * from './entities/outbox-handler.entity.js';
export * from './entities/inbox.entity.js';
export * from './entities/checkpoint.entity.js';
export * from './entities/parked-event.entity.js';
export * from './entities/saga-state.entity.js';
export * from './entities/saga-deadline.entity.js';
export * from './entities/data-key.entity.js';
export * from './entities/create-chronicle-entities.js';
// Migrations
export * from './migrations/chronicle-migration.js';
export * from './migrations/create-chronicle-migrations.js';
export * from './migrations/chronicle-migrator.js';
// Start-up
export * from './dialects/transient-database-error.js';
export * from './startup/retry-database-startup-step.js';
// Transactions
export * from './transactions/run-in-transaction.js';
export * from './transactions/run-read.js';
// Adapters
export * from './journal/typeorm-journal.js';
export * from './journal/transaction-ids-ahead.error.js';
export * from './journal/transaction-id-rebase-refused.error.js';
export type { RebasedCursor, TransactionIdRebase } from './journal/postgres-transaction-ids.js';
export * from './snapshots/typeorm-snapshot-store.js';
export * from './outbox/outbox-notify-channel.js';
export * from './outbox/typeorm-outbox-store.js';
export * from './inbox/typeorm-inbox.js';
export * from './subscriptions/typeorm-checkpoint-store.js';
export * from './sagas/typeorm-saga-store.js';
export * from './keys/typeorm-key-store.js';
export * from './migrations/key-tables.migration.js';
// Notifications
export * from './notifications/postgres-notification-listener.js';
// Storage bundle
/** `commitNotifyChannel(tables)`: the one channel a storage bundle's commits notify (`chronicle_commits` by default). */
export * from './notifications/commit-notify-channel.js';
/** `PostgresCommitNotifications`: one LISTEN connection per instance, waking every listener (relay and subscriptions). */
export * from './notifications/postgres-commit-notifications.js';
/** `createTypeOrmStorage(dataSource, options)`: every store over one DataSource, wired, with `migrate()` and the notifications. */
export * from './storage/create-typeorm-storage.js';
