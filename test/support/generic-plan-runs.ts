import type { DataSource } from 'typeorm';

/**
 * How many times the prepared statements of a one-connection DataSource's session whose name is
 * LIKE `namePattern` and whose text contains `textContains` ran a generic plan
 * (`pg_prepared_statements.generic_plans`, PostgreSQL 14 and later).
 */
export async function genericPlanRuns(dataSource: DataSource, namePattern: string, textContains: string): Promise<number> {
  const [row] = (await dataSource.query(
    'SELECT COALESCE(sum(generic_plans), 0)::int AS runs FROM pg_prepared_statements WHERE name LIKE $1 AND strpos(statement, $2) > 0',
    [namePattern, textContains],
  )) as Array<{ runs: number }>;
  return row?.runs ?? 0;
}
