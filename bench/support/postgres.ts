import pg from 'pg';

/** The PostgreSQL the bench uses (same variables as the test suite). */
export const POSTGRES_URL = process.env.CHRONICLE_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The run id the orchestrator gives every scenario process (schema names carry it, so leftovers can be dropped). */
export const RUN_ID = (process.env.BENCH_RUN_ID ?? Date.now().toString(36)).toLowerCase();

/** Schema name prefix of one run. */
export function runSchemaPrefix(runId: string = RUN_ID): string {
  return `chr_bench_${runId}_`;
}

/** One statement on a short-lived connection. */
export async function pgQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** A fresh schema for one scenario (or one variant of it); `drop` removes it with everything in it. */
export async function freshSchema(tag: string): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `${runSchemaPrefix()}${tag}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);
  await pgQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pgQuery(`CREATE SCHEMA "${schema}"`);
  return { schema, drop: () => pgQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).then(() => undefined) };
}

/** Drops every schema a run created (after a scenario process was killed, say); returns their names. */
export async function dropRunSchemas(runId: string): Promise<string[]> {
  const rows = await pgQuery<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, [runSchemaPrefix(runId)]);
  for (const { nspname } of rows) await pgQuery(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  return rows.map((row) => row.nspname);
}

/** Whether PostgreSQL answers; the reason when it does not. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${POSTGRES_URL} is not reachable (${(error as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}
