import type { DataSource } from 'typeorm';
import {
  DEFAULT_TABLE_PREFIX,
  runChronicleMigrations,
  runInTransaction,
  runRead,
  type ChronicleTableOptions,
} from '@chronicle/typeorm';
import type { ConsoleAuditEntry, ConsoleAuditLog } from './console-audit-entry.js';
import { consoleAuditMigration, CONSOLE_AUDIT_TABLE } from './console-audit.migration.js';

interface AuditRow {
  at: string | Date;
  actor: string;
  action: string;
  target: string;
  outcome: string;
}

/**
 * The audit trail in the application's database (`<prefix>console_audit`, beside Chronicle's
 * tables), on PostgreSQL or SQLite. Writes and reads go through `runInTransaction` / `runRead`, so
 * on SQLite they take the DataSource's write lock like every Chronicle store.
 */
export class TypeOrmConsoleAuditLog implements ConsoleAuditLog {
  private readonly table: string;
  private readonly postgres: boolean;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: ChronicleTableOptions = {},
  ) {
    // Validates the prefix now (the migration factory does), by name.
    consoleAuditMigration(tables);
    this.postgres = dataSource.options.type === 'postgres';
    const name = `"${tables.tablePrefix ?? DEFAULT_TABLE_PREFIX}${CONSOLE_AUDIT_TABLE}"`;
    this.table = this.postgres && tables.schema ? `"${tables.schema}".${name}` : name;
  }

  /** Applies the audit table's migration (recorded in Chronicle's migrations table; idempotent). */
  async prepare(): Promise<void> {
    await runChronicleMigrations(this.dataSource, { ...this.tables, migrations: [consoleAuditMigration(this.tables)] });
  }

  /** Inserts one row, in its own transaction. */
  async record(entry: ConsoleAuditEntry): Promise<void> {
    const p = (n: number): string => (this.postgres ? `$${n}` : '?');
    await runInTransaction(this.dataSource, (manager) =>
      manager.query(`INSERT INTO ${this.table} (at, actor, action, target, outcome) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`, [
        this.postgres ? entry.at : entry.at.toISOString(),
        entry.actor,
        entry.action,
        entry.target,
        entry.outcome,
      ]),
    );
  }

  /** The most recent rows first, at most `limit`, skipping `offset`. */
  async latest(limit: number, offset = 0): Promise<ConsoleAuditEntry[]> {
    const p = (n: number): string => (this.postgres ? `$${n}` : '?');
    const rows = (await runRead(this.dataSource, (manager) =>
      manager.query(`SELECT at, actor, action, target, outcome FROM ${this.table} ORDER BY id DESC LIMIT ${p(1)} OFFSET ${p(2)}`, [limit, offset]),
    )) as AuditRow[];
    return rows.map((row) => ({ ...row, at: row.at instanceof Date ? row.at : new Date(row.at) }));
  }
}
