import { QueryFailedError, type DataSource } from 'typeorm';
import { dialectOf } from '../dialects/dialect-of.js';
import { executeSql } from './execute-sql.js';
import { preparedStatementName } from './prepared-statement-name.js';
import { runInTransaction } from './run-in-transaction.js';

/** Options of {@link runAutocommit}. */
export interface AutocommitOptions {
  /**
   * PostgreSQL: run the statement as a named prepared statement, parsed and planned once per
   * pooled connection (the name is derived from the text). Leave off behind a connection pooler
   * that cannot keep prepared statements (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`).
   * @default false
   */
  prepare?: boolean;
  /**
   * With `prepare`: the statement's plan generation (see `planGeneration`); each has a name of
   * its own, so the statement is planned again for a table that has grown.
   * @default 0
   */
  planGeneration?: number;
}

/** The `pg` client behind a TypeORM PostgreSQL query runner, as far as a named statement needs it. */
interface PreparingClient {
  query<Row>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
}

/**
 * Runs one writing statement as its own transaction and returns its rows. On PostgreSQL it runs
 * on a pooled connection outside any transaction block (autocommit): one round trip, where BEGIN,
 * the statement and COMMIT take three; everything the statement does commits, or nothing does
 * when it fails. On SQLite it runs through `runInTransaction`, under the DataSource's write lock.
 * Failures are TypeORM `QueryFailedError`s either way, and the DataSource's logger sees the query.
 */
export async function runAutocommit<Row>(
  dataSource: DataSource,
  sql: string,
  params: readonly unknown[],
  options: AutocommitOptions = {},
): Promise<Row[]> {
  if (dialectOf(dataSource).name === 'sqlite') {
    return runInTransaction(dataSource, async (manager) => (await executeSql<Row>(manager, sql, params)).rows);
  }
  const runner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as PreparingClient;
    if (!options.prepare) return (await executeSql<Row>(runner.manager, sql, params)).rows;
    const values = [...params];
    dataSource.logger.logQuery(sql, values, runner);
    try {
      return (await client.query<Row>({ name: preparedStatementName('chronicle_', sql, options.planGeneration ?? 0), text: sql, values })).rows;
    } catch (error) {
      dataSource.logger.logQueryError(error as Error, sql, values, runner);
      throw new QueryFailedError(sql, values, error as Error);
    }
  } finally {
    await runner.release();
  }
}
