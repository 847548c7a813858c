import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { defineChronicleMigration, type ChronicleMigrationClass } from './chronicle-migration.js';

function postgresUp(t: ChronicleTables): string[] {
  // COLLATE "C" on the keys that are listed in order (checkpoint names, stream ids, correlation
  // ids, deadline ids): code-point order on every server locale, the order the in-memory stores
  // use and the order keyset pagination compares in.
  return [
    `CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
      name text COLLATE "C" NOT NULL,
      position text,
      lease_owner text,
      lease_until timestamptz,
      last_error text,
      updated_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('checkpoints_pk')} PRIMARY KEY (name)
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.parkedEvents} (
      subscription text NOT NULL,
      event_id text NOT NULL,
      stream_id text COLLATE "C" NOT NULL,
      version integer NOT NULL,
      position bigint NOT NULL,
      type text NOT NULL,
      reason text NOT NULL,
      error text,
      attempts integer NOT NULL,
      parked_at timestamptz NOT NULL,
      redrive_requested_at timestamptz,
      CONSTRAINT ${t.objectName('parked_events_pk')} PRIMARY KEY (subscription, event_id),
      CONSTRAINT ${t.objectName('parked_events_reason_ck')} CHECK (reason IN ('failed', 'held'))
    )`,
    // A subscription's parked events by stream and version: how they are listed and re-driven.
    `CREATE INDEX IF NOT EXISTS ${t.objectName('parked_events_stream_idx')} ON ${t.parkedEvents} (subscription, stream_id, version)`,
    `CREATE TABLE IF NOT EXISTS ${t.sagaStates} (
      saga_name text NOT NULL,
      correlation_id text COLLATE "C" NOT NULL,
      state jsonb NOT NULL,
      state_version integer NOT NULL,
      version integer NOT NULL,
      status text NOT NULL,
      started_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      ended_at timestamptz,
      CONSTRAINT ${t.objectName('saga_states_pk')} PRIMARY KEY (saga_name, correlation_id),
      CONSTRAINT ${t.objectName('saga_states_status_ck')} CHECK (status IN ('active', 'completed'))
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_states_status_idx')} ON ${t.sagaStates} (saga_name, status, correlation_id)`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_states_ended_idx')} ON ${t.sagaStates} (status, ended_at)`,
    `CREATE TABLE IF NOT EXISTS ${t.sagaDeadlines} (
      id text COLLATE "C" NOT NULL,
      saga_name text NOT NULL,
      correlation_id text NOT NULL,
      name text NOT NULL,
      due_at timestamptz NOT NULL,
      payload jsonb,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      lease_owner text,
      lease_until timestamptz,
      fired_at timestamptz,
      parked_at timestamptz,
      created_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('saga_deadlines_pk')} PRIMARY KEY (id)
    )`,
    // The claim walks this index: only deadlines that can still fire are in it.
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_deadlines_due_idx')} ON ${t.sagaDeadlines} (due_at) ` +
      'WHERE fired_at IS NULL AND parked_at IS NULL',
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_deadlines_instance_idx')} ON ${t.sagaDeadlines} (saga_name, correlation_id)`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_deadlines_fired_idx')} ON ${t.sagaDeadlines} (fired_at) WHERE fired_at IS NOT NULL`,
  ];
}

function sqliteUp(t: ChronicleTables): string[] {
  // Timestamps are UTC text (`YYYY-MM-DD HH:MM:SS.SSS`), JSON is text: see the SQLite dialect.
  return [
    `CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
      name TEXT NOT NULL PRIMARY KEY,
      position TEXT,
      lease_owner TEXT,
      lease_until TEXT,
      last_error TEXT,
      updated_at TEXT NOT NULL
    ) WITHOUT ROWID`,
    `CREATE TABLE IF NOT EXISTS ${t.parkedEvents} (
      subscription TEXT NOT NULL,
      event_id TEXT NOT NULL,
      stream_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      position INTEGER NOT NULL,
      type TEXT NOT NULL,
      reason TEXT NOT NULL CHECK (reason IN ('failed', 'held')),
      error TEXT,
      attempts INTEGER NOT NULL,
      parked_at TEXT NOT NULL,
      redrive_requested_at TEXT,
      PRIMARY KEY (subscription, event_id)
    ) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('parked_events_stream_idx')} ON ${t.parkedEvents} (subscription, stream_id, version)`,
    `CREATE TABLE IF NOT EXISTS ${t.sagaStates} (
      saga_name TEXT NOT NULL,
      correlation_id TEXT NOT NULL,
      state TEXT NOT NULL,
      state_version INTEGER NOT NULL,
      version INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('active', 'completed')),
      started_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      ended_at TEXT,
      PRIMARY KEY (saga_name, correlation_id)
    ) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_states_status_idx')} ON ${t.sagaStates} (saga_name, status, correlation_id)`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_states_ended_idx')} ON ${t.sagaStates} (status, ended_at)`,
    `CREATE TABLE IF NOT EXISTS ${t.sagaDeadlines} (
      id TEXT NOT NULL PRIMARY KEY,
      saga_name TEXT NOT NULL,
      correlation_id TEXT NOT NULL,
      name TEXT NOT NULL,
      due_at TEXT NOT NULL,
      payload TEXT,
      attempts INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      lease_owner TEXT,
      lease_until TEXT,
      fired_at TEXT,
      parked_at TEXT,
      created_at TEXT NOT NULL
    ) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_deadlines_due_idx')} ON ${t.sagaDeadlines} (due_at) ` +
      'WHERE fired_at IS NULL AND parked_at IS NULL',
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_deadlines_instance_idx')} ON ${t.sagaDeadlines} (saga_name, correlation_id)`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('saga_deadlines_fired_idx')} ON ${t.sagaDeadlines} (fired_at) WHERE fired_at IS NOT NULL`,
  ];
}

function down(t: ChronicleTables): string[] {
  // Dropping a table drops its indexes and constraints with it.
  return [t.sagaDeadlines, t.sagaStates, t.parkedEvents, t.checkpoints].map((table) => `DROP TABLE IF EXISTS ${table}`);
}

/**
 * The third Chronicle migration: subscription `checkpoints` (position and lease of each
 * projection and saga subscription) with their `parked_events`, and the sagas' `saga_states`
 * and `saga_deadlines`. Idempotent (IF NOT EXISTS), like the others.
 */
export function subscriptionTablesMigration(options: ChronicleTableOptions | undefined): ChronicleMigrationClass {
  return defineChronicleMigration('ChronicleSubscriptionTables1767398400000', options, { postgres: postgresUp, sqlite: sqliteUp, down });
}
