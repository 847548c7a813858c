import type { DataSource } from 'typeorm';
import { executeSql } from './execute-sql.js';

/**
 * Runs one statement on a pooled PostgreSQL connection outside any transaction block, so the
 * statement is its own transaction (autocommit): one round trip, where BEGIN, the statement and
 * COMMIT take three. Everything the statement does commits, or nothing does when it fails.
 * PostgreSQL only: on SQLite every write goes through `runInTransaction` and its write lock.
 */
export async function runAutocommit<Row>(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<Row[]> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    return (await executeSql<Row>(runner.manager, sql, params)).rows;
  } finally {
    await runner.release();
  }
}
