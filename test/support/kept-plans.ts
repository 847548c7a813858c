import type { DataSource } from 'typeorm';

/**
 * The plans a one-connection DataSource's session keeps for its prepared statements whose name is
 * LIKE `namePattern` (and whose text contains `textContains`), as EXPLAIN prints them. The session
 * is switched to `force_generic_plan`, so EXPLAIN EXECUTE shows the generic plan it kept (reused
 * until an invalidation; no parameter value matters, so each is NULL).
 */
export async function keptPlans(dataSource: DataSource, namePattern: string, textContains = ''): Promise<string[]> {
  const prepared = (await dataSource.query(
    'SELECT name, cardinality(parameter_types)::int AS parameters FROM pg_prepared_statements WHERE name LIKE $1 AND strpos(statement, $2) > 0',
    [namePattern, textContains],
  )) as Array<{ name: string; parameters: number }>;
  await dataSource.query('SET plan_cache_mode = force_generic_plan');
  const plans: string[] = [];
  for (const { name, parameters } of prepared) {
    const rows = (await dataSource.query(`EXPLAIN EXECUTE ${name}(${Array.from({ length: parameters }, () => 'NULL').join(', ')})`)) as Array<{ 'QUERY PLAN': string }>;
    plans.push(rows.map((row) => row['QUERY PLAN']).join('\n'));
  }
  return plans;
}
