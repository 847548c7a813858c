import type { DataSource } from 'typeorm';
import { dialectOf } from '../dialects/dialect-of.js';
import { executeSql } from './execute-sql.js';
import { runInTransaction } from './run-in-transaction.js';

/**
 * Runs one writing statement as its own transaction and returns its rows. On PostgreSQL it runs
 * on a pooled connection outside any transaction block (autocommit): one round trip, where BEGIN,
 * the statement and COMMIT take three; everything the statement does commits, or nothing does
 * when it fails. On SQLite it runs through `runInTransaction`, under the DataSource's write lock.
 */
export async function runAutocommit<Row>(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<Row[]> {
  if (dialectOf(dataSource).name === 'sqlite') {
    return runInTransaction(dataSource, async (manager) => (await executeSql<Row>(manager, sql, params)).rows);
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    return (await executeSql<Row>(runner.manager, sql, params)).rows;
  } finally {
    await runner.release();
  }
}
