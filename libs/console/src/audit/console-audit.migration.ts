import { defineChronicleMigration, type ChronicleMigrationClass, type ChronicleTableOptions } from '@chronicle/typeorm';

/** The base name of the console's audit table (`<prefix>console_audit`, in the Chronicle schema). */
export const CONSOLE_AUDIT_TABLE = 'console_audit';

/**
 * The migration creating the console's audit table (`<prefix>console_audit`): one row per action
 * taken in the console. `TypeOrmConsoleAuditLog.prepare()` applies it through
 * `runChronicleMigrations`; list it in a DataSource's `migrations` for the TypeORM CLI if you
 * prefer to run it yourself (its DDL is idempotent).
 */
export function consoleAuditMigration(options?: ChronicleTableOptions): ChronicleMigrationClass {
  return defineChronicleMigration('ChronicleConsoleAudit1796601600000', options, {
    postgres: (t) => [
      `CREATE TABLE IF NOT EXISTS ${t.qualified(CONSOLE_AUDIT_TABLE)} (
        id bigint GENERATED ALWAYS AS IDENTITY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        outcome text NOT NULL,
        CONSTRAINT ${t.objectName('console_audit_pk')} PRIMARY KEY (id)
      )`,
    ],
    sqlite: (t) => [
      `CREATE TABLE IF NOT EXISTS ${t.qualified(CONSOLE_AUDIT_TABLE)} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL
      )`,
    ],
    down: (t) => [`DROP TABLE IF EXISTS ${t.qualified(CONSOLE_AUDIT_TABLE)}`],
  });
}
