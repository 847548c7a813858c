import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { defineChronicleMigration, type ChronicleMigrationClass } from './chronicle-migration.js';

// One row per data subject. A forgotten subject keeps its row as a tombstone (no key material,
// forgotten_at set), so that it never gets a new key and `forget` can say when it happened.
function postgresUp(t: ChronicleTables): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${t.dataKeys} (
      subject text COLLATE "C" NOT NULL,
      key_id text NOT NULL,
      master_key_id text,
      wrapped_key text,
      created_at timestamptz NOT NULL,
      forgotten_at timestamptz,
      CONSTRAINT ${t.objectName('data_keys_pk')} PRIMARY KEY (subject),
      CONSTRAINT ${t.objectName('data_keys_key_id_uq')} UNIQUE (key_id),
      CONSTRAINT ${t.objectName('data_keys_state_ck')} CHECK ((wrapped_key IS NULL) = (forgotten_at IS NOT NULL)
        AND (wrapped_key IS NULL) = (master_key_id IS NULL))
    )`,
    // What a master-key rotation walks: the live keys by the master key that wraps them.
    `CREATE INDEX IF NOT EXISTS ${t.objectName('data_keys_master_idx')} ON ${t.dataKeys} (master_key_id, key_id) WHERE wrapped_key IS NOT NULL`,
  ];
}

function sqliteUp(t: ChronicleTables): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${t.dataKeys} (
      subject TEXT NOT NULL PRIMARY KEY,
      key_id TEXT NOT NULL UNIQUE,
      master_key_id TEXT,
      wrapped_key TEXT,
      created_at TEXT NOT NULL,
      forgotten_at TEXT,
      CHECK ((wrapped_key IS NULL) = (forgotten_at IS NOT NULL) AND (wrapped_key IS NULL) = (master_key_id IS NULL))
    )`,
    `CREATE INDEX IF NOT EXISTS ${t.objectName('data_keys_master_idx')} ON ${t.dataKeys} (master_key_id, key_id) WHERE wrapped_key IS NOT NULL`,
  ];
}

/** The data-key table of crypto-shredding (`<prefix>data_keys`). */
export function keyTablesMigration(options?: ChronicleTableOptions): ChronicleMigrationClass {
  return defineChronicleMigration('ChronicleKeyTables1767571200000', options, {
    postgres: postgresUp,
    sqlite: sqliteUp,
    down: (t) => [`DROP TABLE IF EXISTS ${t.dataKeys}`],
  });
}
