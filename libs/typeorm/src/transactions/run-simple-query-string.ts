import { QueryFailedError, type DataSource, type QueryRunner } from 'typeorm';

/** The `pg` client behind a TypeORM PostgreSQL query runner, as far as a simple-protocol query needs it. */
export interface SimpleQueryClient {
  query(text: string): Promise<{ rows: unknown[] } | Array<{ rows: unknown[] }>>;
}

/**
 * PostgreSQL: sends `text`, several statements WITHOUT parameters (their values written in as
 * literals), as ONE simple-protocol query (node-postgres sends a query without parameters as a
 * simple Query message; the server runs the statements in order) and returns each statement's
 * result, logged through the DataSource's logger as TypeORM logs its own queries.
 *
 * When a statement fails, the server skips the rest of the string and leaves the transaction
 * block the string opened aborted: ROLLBACK ends it (a second round trip, on failure only), and
 * the error goes to the caller as a `QueryFailedError` whose `driverError` is the server's.
 */
export async function runSimpleQueryString(dataSource: DataSource, runner: QueryRunner, client: SimpleQueryClient, text: string): Promise<Array<{ rows: unknown[] }>> {
  dataSource.logger.logQuery(text, [], runner);
  try {
    const answer = await client.query(text);
    return Array.isArray(answer) ? answer : [answer];
  } catch (error) {
    dataSource.logger.logQueryError(error as Error, text, [], runner);
    // The original error is what the caller needs; a failed rollback ends with the connection.
    await client.query('ROLLBACK').catch(() => undefined);
    throw new QueryFailedError(text, [], error as Error);
  }
}
