import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { defineChronicleMigration, type ChronicleMigrationClass } from './chronicle-migration.js';

function postgresUp(t: ChronicleTables): string[] {
  return [
    // stream_id COLLATE "C": claims walk aggregates in code-point order through the claim index,
    // the same order on every server locale and the order claims are returned in.
    `CREATE TABLE IF NOT EXISTS ${t.outbox} (
      id uuid NOT NULL,
      handler text NOT NULL,
      aggregate_type text NOT NULL,
      aggregate_id text NOT NULL,
      stream_id text COLLATE "C" NOT NULL,
      version integer NOT NULL,
      event_id text NOT NULL,
      event_type text NOT NULL,
      schema_version integer NOT NULL,
      payload jsonb NOT NULL,
      metadata jsonb NOT NULL,
      occurred_at timestamptz NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      last_error text,
      lease_owner text,
      lease_until timestamptz,
      published_at timestamptz,
      dead_lettered_at timestamptz,
      created_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('outbox_pk')} PRIMARY KEY (id),
      CONSTRAINT ${t.objectName('outbox_handler_event_uq')} UNIQUE (handler, event_id)
    )`,
    // The claim walks this index: per handler, the aggregates with unpublished entries (a skip
    // scan over stream_id) and each one's head (lowest version). Published rows leave it.
    `CREATE INDEX IF NOT EXISTS ${t.objectName('outbox_claim_idx')} ON ${t.outbox} (handler, stream_id, version) ` +
      'WHERE published_at IS NULL',
    `CREATE INDEX IF NOT EXISTS ${t.objectName('outbox_dead_letter_idx')} ON ${t.outbox} (dead_lettered_at, id) ` +
      'WHERE dead_lettered_at IS NOT NULL AND published_at IS NULL',
    `CREATE INDEX IF NOT EXISTS ${t.objectName('outbox_published_idx')} ON ${t.outbox} (published_at) WHERE published_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${t.outboxHandlers} (
      handler text NOT NULL,
      start_from text NOT NULL,
      backfill_cursor text,
      ready_at timestamptz,
      registered_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('outbox_handlers_pk')} PRIMARY KEY (handler),
      CONSTRAINT ${t.objectName('outbox_handlers_start_ck')} CHECK (start_from IN ('now', 'beginning'))
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.inbox} (
      consumer text NOT NULL,
      message_id text NOT NULL,
      processed_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('inbox_pk')} PRIMARY KEY (consumer, message_id)
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('inbox_processed_at_idx')} ON ${t.inbox} (processed_at)`,
  ];
}

function sqliteUp(t: ChronicleTables): string[] {
  // Timestamps are UTC text (`YYYY-MM-DD HH:MM:SS.SSS`), JSON is text: see the SQLite dialect.
  return [
    `CREATE TABLE IF NOT EXISTS ${t.outbox} (
      id TEXT NOT NULL PRIMARY KEY,
      handler TEXT NOT NULL,
      aggregate_type TEXT NOT NULL,
      aggregate_id TEXT NOT NULL,
      stream_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      event_id TEXT NOT NULL,
      event_type TEXT NOT NULL,
      schema_version INTEGER NOT NULL,
      payload TEXT NOT NULL,
      metadata TEXT NOT NULL,
      occurred_at TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at TEXT NOT NULL,
      last_error TEXT,
      lease_owner TEXT,
      lease_until TEXT,
      published_at TEXT,
      dead_lettered_at TEXT,
      created_at TEXT NOT NULL,
      UNIQUE (handler, event_id)
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('outbox_claim_idx')} ON ${t.outbox} (handler, stream_id, version) ` +
      'WHERE published_at IS NULL',
    `CREATE INDEX IF NOT EXISTS ${t.objectName('outbox_dead_letter_idx')} ON ${t.outbox} (dead_lettered_at, id) ` +
      'WHERE dead_lettered_at IS NOT NULL AND published_at IS NULL',
    `CREATE INDEX IF NOT EXISTS ${t.objectName('outbox_published_idx')} ON ${t.outbox} (published_at) WHERE published_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${t.outboxHandlers} (
      handler TEXT NOT NULL PRIMARY KEY,
      start_from TEXT NOT NULL CHECK (start_from IN ('now', 'beginning')),
      backfill_cursor TEXT,
      ready_at TEXT,
      registered_at TEXT NOT NULL
    ) WITHOUT ROWID`,
    `CREATE TABLE IF NOT EXISTS ${t.inbox} (
      consumer TEXT NOT NULL,
      message_id TEXT NOT NULL,
      processed_at TEXT NOT NULL,
      PRIMARY KEY (consumer, message_id)
    ) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('inbox_processed_at_idx')} ON ${t.inbox} (processed_at)`,
  ];
}

function down(t: ChronicleTables): string[] {
  // Dropping a table drops its indexes and constraints with it.
  return [t.inbox, t.outboxHandlers, t.outbox].map((table) => `DROP TABLE IF EXISTS ${table}`);
}

/**
 * The second Chronicle migration: the transactional outbox (`outbox`, one row per event per
 * handler, and `outbox_handlers`, each handler's registration and backfill state) and the
 * consumers' `inbox` of processed message ids. Idempotent (IF NOT EXISTS), like the first.
 */
export function outboxTablesMigration(options: ChronicleTableOptions | undefined): ChronicleMigrationClass {
  return defineChronicleMigration('ChronicleOutboxTables1767312000000', options, { postgres: postgresUp, sqlite: sqliteUp, down });
}
