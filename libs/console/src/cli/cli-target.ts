import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ConfigurationError, type ChronicleStorage } from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { ChronicleOperations } from '../operations/chronicle-operations.service.js';
import { loadCliApp } from './cli-app.js';
import type { ChronicleCliIo } from './cli-io.js';
import { CliUsageError } from './cli-usage.error.js';
import { parseDatabaseUrl, redactDatabaseUrl } from './database-url.js';

/** Where the CLI finds the database: the global options, resolved against the environment. */
export interface CliConnectionOptions {
  /** `--database-url`, else `DATABASE_URL`. */
  databaseUrl?: string;
  /** `--data-source <file>`: a module exporting a TypeORM DataSource. */
  dataSource?: string;
  /** `--app <file>`: a module exporting the application (see `ChronicleCliApp`). */
  app?: string;
  /** `--schema`, else `CHRONICLE_SCHEMA` (PostgreSQL). */
  schema?: string;
  /** `--table-prefix`, else `CHRONICLE_TABLE_PREFIX`. */
  tablePrefix?: string;
}

/** The operations service over the database the options name, and how to let go of it. */
export interface CliTarget {
  operations: ChronicleOperations;
  /** What the CLI is connected to, for messages (no password). */
  description: string;
  close(): Promise<void>;
}

function isDataSource(value: unknown): value is DataSource {
  if (value instanceof DataSource) return true;
  // Another copy of typeorm (the application's own install) is recognised by shape.
  const candidate = value as Partial<DataSource> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.initialize === 'function' &&
    typeof candidate.destroy === 'function' &&
    typeof candidate.options === 'object' &&
    typeof candidate.isInitialized === 'boolean'
  );
}

async function loadDataSource(file: string, io: ChronicleCliIo): Promise<DataSource> {
  const path = resolve(io.cwd, file);
  if (!existsSync(path)) throw new CliUsageError(`--data-source ${file}: no such file (${path}). Point it at a built JavaScript module exporting a TypeORM DataSource.`);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError(`--data-source ${file} could not be loaded: ${(error as Error).message}`, { cause: error });
  }
  // Like TypeORM's own CLI (-d): the module exports one DataSource, as default or named.
  const found = [...new Set(Object.values(exports).filter(isDataSource))];
  if (found.length !== 1) {
    throw new CliUsageError(
      `--data-source ${file} must export exactly one TypeORM DataSource (default or named), found ${found.length}.`,
    );
  }
  return found[0]!;
}

async function dataSourceFromUrl(url: string, io: ChronicleCliIo): Promise<DataSource> {
  const parsed = parseDatabaseUrl(url, io.cwd);
  let options: DataSourceOptions;
  if (parsed.kind === 'postgres') {
    let pg: unknown;
    try {
      // TypeORM's own require('pg') fails under ESM loaders; the driver is handed to it instead.
      pg = ((await import('pg')) as { default: unknown }).default;
    } catch (error) {
      throw new ConfigurationError('DATABASE_URL names PostgreSQL but the `pg` package is not installed: npm install pg.', { cause: error });
    }
    options = { type: 'postgres', url: parsed.url, driver: pg, applicationName: 'chronicle-cli', connectTimeoutMS: 10_000, extra: { max: 4 } };
  } else {
    if (!existsSync(parsed.file)) {
      throw new CliUsageError(`DATABASE_URL names the SQLite file ${parsed.file}, which does not exist: point it at the file the application writes.`);
    }
    // A busy timeout: the application may hold the write lock when a re-drive writes.
    options = { type: 'better-sqlite3', database: parsed.file, fileMustExist: true, timeout: 15_000 };
  }
  return new DataSource(options);
}

const MISSING_TABLE = /does not exist|no such table/i;

/** Fails with a clear message when Chronicle's tables are not where the options say. */
async function probe(storage: ChronicleStorage<unknown>, where: string, tables: { schema?: string; tablePrefix?: string }): Promise<void> {
  try {
    await storage.journal.headPosition();
  } catch (error) {
    if (MISSING_TABLE.test((error as Error).message)) {
      throw new ConfigurationError(
        `Chronicle's tables were not found in ${where}` +
          `${tables.schema ? ` (schema "${tables.schema}")` : ''}${tables.tablePrefix ? ` (table prefix "${tables.tablePrefix}")` : ''}: ` +
          'check --schema / CHRONICLE_SCHEMA and --table-prefix / CHRONICLE_TABLE_PREFIX, or start the application once so that it migrates.',
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Opens what the options name, in this order: `--app` (the application's runtime and storage; a
 * rebuild needs it), `--data-source` (the DataSource the file exports), `--database-url` or
 * `DATABASE_URL`. The last two open the database directly and need nothing of the application
 * (it may be down); they read Chronicle's tables, never migrate them, and never LISTEN.
 */
export async function openCliTarget(options: CliConnectionOptions, io: ChronicleCliIo, command: string): Promise<CliTarget> {
  const schema = options.schema ?? (io.env.CHRONICLE_SCHEMA || undefined);
  const tablePrefix = options.tablePrefix ?? (io.env.CHRONICLE_TABLE_PREFIX || undefined);
  if (options.app !== undefined) {
    const app = await loadCliApp(options.app, io, command);
    return { operations: new ChronicleOperations({ storage: app.chronicle.storage, chronicle: app.chronicle }), description: `the application of ${options.app}`, close: () => app.close() };
  }
  const url = options.databaseUrl ?? (io.env.DATABASE_URL || undefined);
  let dataSource: DataSource;
  let where: string;
  if (options.dataSource !== undefined) {
    dataSource = await loadDataSource(options.dataSource, io);
    where = `the DataSource of ${options.dataSource}`;
  } else if (url !== undefined) {
    dataSource = await dataSourceFromUrl(url, io);
    where = redactDatabaseUrl(url);
  } else {
    throw new CliUsageError(
      'Say which database to read: set DATABASE_URL (postgres://… or sqlite:<file>), or pass --database-url, ' +
        '--data-source <file exporting a TypeORM DataSource>, or --app <file exporting the application>.',
    );
  }
  const ownsConnection = !dataSource.isInitialized;
  if (ownsConnection) {
    try {
      await dataSource.initialize();
    } catch (error) {
      throw new ConfigurationError(`Could not open ${where}: ${(error as Error).message}`, { cause: error });
    }
  }
  const close = async (): Promise<void> => {
    if (ownsConnection && dataSource.isInitialized) await dataSource.destroy();
  };
  try {
    // A --data-source whose options name a schema keeps Chronicle's tables there unless told otherwise.
    const dataSourceSchema = (dataSource.options as { schema?: string }).schema;
    const tables = {
      ...((schema ?? dataSourceSchema) === undefined ? {} : { schema: schema ?? dataSourceSchema }),
      ...(tablePrefix === undefined ? {} : { tablePrefix }),
    };
    const storage = createTypeOrmStorage(dataSource, { ...tables, notifications: false });
    await probe(storage, where, tables);
    return { operations: new ChronicleOperations<unknown>({ storage: storage as ChronicleStorage<unknown> }), description: where, close };
  } catch (error) {
    await close();
    throw error;
  }
}
