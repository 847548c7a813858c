import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { runChronicleMigrations, type ChronicleTableOptions } from '@chronicle/typeorm';
import { createSchema, POSTGRES_URL, uniqueSchemaName } from './services.js';

/** DataSources a test opened, closed (and their storage removed) in one call. */
export interface TestDatabase {
  /** The first DataSource, migrated. */
  dataSource: DataSource;
  /** Table options the migrations used (schema on PostgreSQL). */
  tables: ChronicleTableOptions;
  /** Opens another DataSource on the same storage (its own connection or pool; `poolSize` on PostgreSQL, 10 unless given). */
  openAnother(options?: { poolSize?: number }): Promise<DataSource>;
  close(): Promise<void>;
}

async function track(opened: DataSource[], dataSource: DataSource): Promise<DataSource> {
  await dataSource.initialize();
  opened.push(dataSource);
  return dataSource;
}

async function destroyAll(opened: DataSource[]): Promise<void> {
  for (const dataSource of opened.splice(0)) {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}

/** A migrated in-memory SQLite database (no second connection is possible). */
export async function openSqliteMemory(tables: ChronicleTableOptions = {}): Promise<TestDatabase> {
  const opened: DataSource[] = [];
  const dataSource = await track(opened, new DataSource({ type: 'better-sqlite3', database: ':memory:' }));
  await runChronicleMigrations(dataSource, tables);
  return {
    dataSource,
    tables,
    openAnother: () => Promise.reject(new Error('an in-memory SQLite database cannot be opened twice')),
    close: () => destroyAll(opened),
  };
}

/** A migrated SQLite file in a fresh temp directory; `openAnother` opens the same file again. */
export async function openSqliteFile(options: { wal?: boolean; tables?: ChronicleTableOptions } = {}): Promise<TestDatabase> {
  const directory = mkdtempSync(join(tmpdir(), 'chronicle-sqlite-'));
  const database = join(directory, 'chronicle.db');
  const tables = options.tables ?? {};
  const opened: DataSource[] = [];
  const open = (): Promise<DataSource> =>
    track(opened, new DataSource({ type: 'better-sqlite3', database, enableWAL: options.wal ?? false, timeout: 15_000 }));
  const dataSource = await open();
  await runChronicleMigrations(dataSource, tables);
  return {
    dataSource,
    tables,
    openAnother: open,
    close: async () => {
      await destroyAll(opened);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A migrated fresh PostgreSQL schema; `openAnother` opens another pool on it. */
export async function openPostgresSchema(options: { tablePrefix?: string } = {}): Promise<TestDatabase> {
  const schema = uniqueSchemaName();
  const dropSchema = await createSchema(schema);
  const tables: ChronicleTableOptions = { schema, ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }) };
  const opened: DataSource[] = [];
  const open = (openOptions: { poolSize?: number } = {}): Promise<DataSource> =>
    track(opened, new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize: openOptions.poolSize ?? 10 }));
  try {
    const dataSource = await open();
    await runChronicleMigrations(dataSource, tables);
    return {
      dataSource,
      tables,
      openAnother: open,
      close: async () => {
        await destroyAll(opened);
        await dropSchema();
      },
    };
  } catch (error) {
    await destroyAll(opened);
    await dropSchema();
    throw error;
  }
}
