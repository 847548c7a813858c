import type { EntityManager, QueryResult } from 'typeorm';

/** The rows a statement returned and, for writes without RETURNING, how many rows it changed. */
export interface SqlResult<Row> {
  rows: Row[];
  affected: number | undefined;
}

/**
 * Runs one parameterized statement on the manager's connection (the transaction's, inside
 * `runInTransaction`) and returns rows and affected count the same way on both drivers.
 */
export async function executeSql<Row = Record<string, unknown>>(
  manager: EntityManager,
  sql: string,
  parameters: readonly unknown[] = [],
): Promise<SqlResult<Row>> {
  const bound = manager.queryRunner;
  const runner = bound ?? manager.connection.createQueryRunner();
  try {
    const result = (await runner.query(sql, [...parameters], true)) as QueryResult<Row>;
    return { rows: result.records ?? [], affected: result.affected };
  } finally {
    if (!bound) await runner.release();
  }
}
