import type { DataSource } from 'typeorm';
import { ConfigurationError } from '@chronicle/core';
import type { SqlDialect } from './sql-dialect.js';
import { postgresDialect } from './postgres.dialect.js';
import { sqliteDialect } from './sqlite.dialect.js';

/** The dialect of a DataSource; throws `ConfigurationError` for a driver Chronicle does not support. */
export function dialectOf(dataSource: DataSource): SqlDialect {
  const type = dataSource.options.type;
  if (type === 'postgres') return postgresDialect;
  if (type === 'better-sqlite3') return sqliteDialect;
  throw new ConfigurationError(
    `Chronicle's TypeORM adapters support the "postgres" and "better-sqlite3" drivers, not "${type}"; ` +
      'point Chronicle at a DataSource of one of those.',
  );
}
