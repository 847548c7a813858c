/** Sizes below this share the first plan generation. */
const FIRST_GENERATION_END = 64;
/** The last generation: sizes past 2^62 (none a safe integer reaches) share it. */
const LAST_GENERATION_LOG2 = 62;

/**
 * The plan generation of a prepared statement over a table whose size this process estimates at
 * `size` rows: 0 below 64, then one more each time `size` doubles. A statement runs under a name
 * per generation (`preparedStatementName`), so it is planned again each time the table may have
 * doubled.
 *
 * Why: PostgreSQL keeps the generic plan a prepared statement gets at its sixth run until an
 * ANALYZE of its tables invalidates it. Made while a table was small (a new deployment, whose
 * first ANALYZE saw a few rows), that plan scans the table instead of using its index (measured:
 * `Seq Scan` and `Sort` on a three-event journal, `Seq Scan` in every step of the outbox claim on
 * a three-entry outbox), and it is kept while a burst of writes grows the table faster than
 * autovacuum analyzes it. A new plan is made for the table as it is (the planner scales the
 * statistics' row estimate to the table's current size). The name is chosen before the rows are
 * seen, so the first run after a burst still uses the plan of the generation before; from then on
 * the plan in use was made on a table at least about half as large, as far as the estimate keeps
 * up with the table. The cost: a few dozen statements per connection over the life of a table.
 */
export function planGeneration(size: number): number {
  if (!(size >= FIRST_GENERATION_END)) return 0;
  return Math.min(Math.floor(Math.log2(size)), LAST_GENERATION_LOG2) - Math.log2(FIRST_GENERATION_END) + 1;
}
