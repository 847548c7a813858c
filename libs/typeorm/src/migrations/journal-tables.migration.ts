import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { defineChronicleMigration, type ChronicleMigrationClass } from './chronicle-migration.js';

function postgresUp(t: ChronicleTables): string[] {
  return [
    // COLLATE "C": stream ids sort by code point, the same on every server locale, so keyset
    // pagination of listStreams and the writers' lock order agree everywhere.
    `CREATE TABLE IF NOT EXISTS ${t.streams} (
      id text COLLATE "C" NOT NULL,
      aggregate_type text NOT NULL,
      version integer NOT NULL,
      deleted_up_to integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('streams_pk')} PRIMARY KEY (id),
      CONSTRAINT ${t.objectName('streams_version_ck')} CHECK (version >= 0 AND deleted_up_to >= 0 AND deleted_up_to <= version)
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('streams_type_idx')} ON ${t.streams} (aggregate_type, id)`,
    // tx_id: the writing transaction's id, the first half of the gap-free feed cursor.
    `CREATE TABLE IF NOT EXISTS ${t.events} (
      position bigint GENERATED ALWAYS AS IDENTITY,
      stream_id text COLLATE "C" NOT NULL,
      version integer NOT NULL,
      aggregate_type text NOT NULL,
      event_id text NOT NULL,
      type text NOT NULL,
      schema_version integer NOT NULL,
      payload jsonb NOT NULL,
      metadata jsonb NOT NULL,
      tags jsonb NOT NULL DEFAULT '[]'::jsonb,
      occurred_at timestamptz NOT NULL,
      tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
      CONSTRAINT ${t.objectName('events_pk')} PRIMARY KEY (position),
      CONSTRAINT ${t.objectName('events_stream_version_uq')} UNIQUE (stream_id, version),
      CONSTRAINT ${t.objectName('events_event_id_uq')} UNIQUE (event_id),
      CONSTRAINT ${t.objectName('events_version_ck')} CHECK (version >= 1)
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('events_tx_position_idx')} ON ${t.events} (tx_id, position)`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('events_tags_idx')} ON ${t.events} USING gin (tags jsonb_path_ops)`,
    `CREATE TABLE IF NOT EXISTS ${t.commands} (
      command_id text NOT NULL,
      fingerprint text NOT NULL,
      stream_id text NOT NULL,
      aggregate_type text NOT NULL,
      outcome jsonb NOT NULL,
      recorded_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('commands_pk')} PRIMARY KEY (command_id)
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('commands_recorded_at_idx')} ON ${t.commands} (recorded_at)`,
    `CREATE TABLE IF NOT EXISTS ${t.snapshots} (
      stream_id text COLLATE "C" NOT NULL,
      version integer NOT NULL,
      aggregate_type text NOT NULL,
      schema_version integer NOT NULL,
      state jsonb NOT NULL,
      taken_at timestamptz NOT NULL,
      CONSTRAINT ${t.objectName('snapshots_pk')} PRIMARY KEY (stream_id, version)
    )`,
  ];
}

function sqliteUp(t: ChronicleTables): string[] {
  // Timestamps are UTC text (`YYYY-MM-DD HH:MM:SS.SSS`), JSON is text: see the SQLite dialect.
  return [
    `CREATE TABLE IF NOT EXISTS ${t.streams} (
      id TEXT NOT NULL PRIMARY KEY,
      aggregate_type TEXT NOT NULL,
      version INTEGER NOT NULL,
      deleted_up_to INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      CHECK (version >= 0 AND deleted_up_to >= 0 AND deleted_up_to <= version)
    ) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('streams_type_idx')} ON ${t.streams} (aggregate_type, id)`,
    // AUTOINCREMENT: a position is never reused, not even after the newest row is deleted.
    `CREATE TABLE IF NOT EXISTS ${t.events} (
      position INTEGER PRIMARY KEY AUTOINCREMENT,
      stream_id TEXT NOT NULL,
      version INTEGER NOT NULL CHECK (version >= 1),
      aggregate_type TEXT NOT NULL,
      event_id TEXT NOT NULL,
      type TEXT NOT NULL,
      schema_version INTEGER NOT NULL,
      payload TEXT NOT NULL,
      metadata TEXT NOT NULL,
      tags TEXT NOT NULL DEFAULT '[]',
      occurred_at TEXT NOT NULL,
      UNIQUE (stream_id, version),
      UNIQUE (event_id)
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.commands} (
      command_id TEXT NOT NULL PRIMARY KEY,
      fingerprint TEXT NOT NULL,
      stream_id TEXT NOT NULL,
      aggregate_type TEXT NOT NULL,
      outcome TEXT NOT NULL,
      recorded_at TEXT NOT NULL
    ) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('commands_recorded_at_idx')} ON ${t.commands} (recorded_at)`,
    `CREATE TABLE IF NOT EXISTS ${t.snapshots} (
      stream_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      aggregate_type TEXT NOT NULL,
      schema_version INTEGER NOT NULL,
      state TEXT NOT NULL,
      taken_at TEXT NOT NULL,
      PRIMARY KEY (stream_id, version)
    ) WITHOUT ROWID`,
  ];
}

function down(t: ChronicleTables): string[] {
  // Dropping a table drops its indexes and constraints with it.
  return [t.snapshots, t.commands, t.events, t.streams].map((table) => `DROP TABLE IF EXISTS ${table}`);
}

/**
 * The first Chronicle migration: streams, events, commands and snapshots, with their keys and
 * indexes. Idempotent (IF NOT EXISTS), so running it again, or from both the TypeORM CLI and
 * `runChronicleMigrations`, changes nothing.
 */
export function journalTablesMigration(options: ChronicleTableOptions | undefined): ChronicleMigrationClass {
  return defineChronicleMigration('ChronicleJournalTables1767225600000', options, { postgres: postgresUp, sqlite: sqliteUp, down });
}
