import type { DataSource, QueryRunner } from 'typeorm';
import { dialectOf } from '../dialects/dialect-of.js';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { checkTransactionIds } from '../journal/postgres-transaction-ids.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { resolveChronicleTables } from '../table-options.js';
import { sqliteWriteLock } from '../transactions/sqlite-write-lock.js';
import type { ChronicleMigrationClass } from './chronicle-migration.js';
import { createChronicleMigrations } from './create-chronicle-migrations.js';

/** Options of {@link runChronicleMigrations}. */
export interface ChronicleMigrationOptions extends ChronicleTableOptions {
  /** The migrations to apply. @default createChronicleMigrations(options) */
  migrations?: ChronicleMigrationClass[];
  /** Clock for the bookkeeping timestamps. @default the wall clock */
  now?: () => Date;
}

// First key of Chronicle's advisory locks ("CHRN"); the second is a hash of schema and prefix,
// so libraries with different tables never wait for each other.
const ADVISORY_LOCK_CLASS = 0x4348524e;

/** FNV-1a over the text, as a signed 32-bit integer (the type of `pg_advisory_lock`'s keys). */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/**
 * The two keys of the session advisory lock the migrator holds on PostgreSQL for these tables, as
 * `pg_advisory_lock(key1, key2)` takes them (`pg_locks` shows them unsigned, as `classid` and
 * `objid` with `objsubid = 2`): to find which session migrates, or waits to.
 *
 * With `schema`, the lock of the tables in that schema, which every migrator of them takes,
 * whether it names the schema or reaches it through its search_path. Without, the lock earlier
 * builds took for every migrator without a `schema` option, whatever its search_path: a migrator
 * without one takes it too, before the lock of the schema its connection creates tables in
 * (`current_schema()`), so it also waits for an earlier build running beside it.
 */
export function chronicleMigrationLockKeys(options: ChronicleTableOptions = {}): [number, number] {
  const tables = resolveChronicleTables(options, postgresDialect);
  return [ADVISORY_LOCK_CLASS, hash32(`${tables.schema ?? ''}.${tables.prefix}`)];
}

/**
 * The migration locks a PostgreSQL migrator takes on `runner`'s session, in this order (one order
 * for every migrator, so two never deadlock): with a `schema` option, that schema's; without, the
 * one earlier builds took ({@link chronicleMigrationLockKeys} without `schema`), then the one of
 * the schema the unqualified DDL creates the tables in, `current_schema()` on this session. So an
 * instance configured with the schema and one reaching it through its search_path take one lock
 * and never migrate at once. The schema is named, not the events table looked up: on a first run
 * it does not exist yet. No schema on the search_path exists: the earlier lock alone (the DDL
 * then fails, having no schema to create in).
 */
async function migrationLocks(runner: QueryRunner, options: ChronicleTableOptions): Promise<Array<[number, number]>> {
  if (options.schema !== undefined) return [chronicleMigrationLockKeys(options)];
  const earlier = chronicleMigrationLockKeys(options);
  const [row] = (await runner.query('SELECT current_schema() AS schema')) as Array<{ schema: string | null }>;
  const schema = row?.schema ?? null;
  return schema === null ? [earlier] : [earlier, chronicleMigrationLockKeys({ ...options, schema })];
}

/**
 * Applies the Chronicle migrations that this DataSource's `<prefix>migrations` table does not
 * list yet, oldest first, each in its own transaction together with its bookkeeping row.
 * Returns the names it applied (empty when everything was applied already).
 *
 * Safe to run again after a failure (each migration commits with its bookkeeping row), so a start-up
 * can retry it while the database restarts. Safe when several instances start together, whether
 * they name the schema or reach it through their search_path. PostgreSQL: session advisory locks
 * (see {@link chronicleMigrationLockKeys}) held on one dedicated connection for the whole run (so
 * it needs a session-pooled connection, not PgBouncer's transaction mode). SQLite: the DataSource's write lock and `BEGIN IMMEDIATE`,
 * which also makes a second process on the same file wait.
 *
 * PostgreSQL: after migrating, throws `TransactionIdsAheadError` for a journal restored from
 * another cluster (see `TypeOrmJournal.rebaseTransactionIds`), so the application does not start
 * on a feed that would skip events.
 *
 * We keep our own bookkeeping because TypeORM's runner cannot apply a subset of a DataSource's
 * migrations; an application that also lists these migrations for the TypeORM CLI is safe
 * because their DDL is idempotent.
 */
export async function runChronicleMigrations(dataSource: DataSource, options: ChronicleMigrationOptions = {}): Promise<string[]> {
  const dialect = dialectOf(dataSource);
  const tables = resolveChronicleTables(options, dialect);
  const migrations = (options.migrations ?? createChronicleMigrations(options)).map((Migration) => new Migration());
  const now = options.now ?? (() => new Date());
  const runner = dataSource.createQueryRunner();

  // PostgreSQL: one transaction per migration, under the advisory lock. SQLite: the caller wraps
  // the whole run (bookkeeping read included) in one IMMEDIATE transaction, the file-wide lock.
  const applyPending = async (transactionPerMigration: boolean): Promise<string[]> => {
    await runner.query(
      `CREATE TABLE IF NOT EXISTS ${tables.migrations} (name ${dialect.name === 'postgres' ? 'text' : 'TEXT'} NOT NULL PRIMARY KEY, ` +
        `applied_at ${dialect.name === 'postgres' ? 'timestamptz' : 'TEXT'} NOT NULL)`,
    );
    const rows = (await runner.query(`SELECT name FROM ${tables.migrations}`)) as Array<{ name: string }>;
    const applied = new Set(rows.map((row) => row.name));
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.name)) continue;
      const apply = async (): Promise<void> => {
        await migration.up(runner);
        const params = new SqlParameters(dialect);
        await runner.query(
          `INSERT INTO ${tables.migrations} (name, applied_at) VALUES (${params.add(migration.name)}, ${params.add(dialect.encodeTimestamp(now()))})`,
          params.values,
        );
      };
      if (transactionPerMigration) await inTransaction(runner, 'BEGIN', apply);
      else await apply();
      done.push(migration.name);
    }
    return done;
  };

  try {
    await runner.connect();
    if (dialect.name === 'sqlite') {
      // IMMEDIATE takes the file's write lock up front, so a second process waits (busy timeout)
      // instead of failing when its read of the bookkeeping turns into a write.
      return await sqliteWriteLock(dataSource).runExclusive(() =>
        inTransaction(runner, 'BEGIN IMMEDIATE', () => applyPending(false)),
      );
    }
    const held: Array<[number, number]> = [];
    try {
      for (const [lockClass, lockKey] of await migrationLocks(runner, options)) {
        await runner.query('SELECT pg_advisory_lock($1, $2)', [lockClass, lockKey]);
        held.push([lockClass, lockKey]);
      }
      await ensurePostgresSchema(runner, tables);
      const applied = await applyPending(true);
      // Start-up is where a journal restored from another cluster must stop the application.
      await checkTransactionIds(runner.manager, tables);
      return applied;
    } finally {
      for (const [lockClass, lockKey] of held.reverse()) await runner.query('SELECT pg_advisory_unlock($1, $2)', [lockClass, lockKey]);
    }
  } finally {
    await runner.release();
  }
}

/** Creates the configured schema when it is missing (checked first: CREATE needs a privilege). */
async function ensurePostgresSchema(runner: QueryRunner, tables: ChronicleTables): Promise<void> {
  if (tables.schema === undefined) return;
  const found = (await runner.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [tables.schema])) as unknown[];
  if (found.length === 0) {
    await runner.query(`CREATE SCHEMA IF NOT EXISTS ${dialectOf(runner.connection).quoteIdentifier(tables.schema)}`);
  }
}

async function inTransaction<T>(runner: QueryRunner, begin: string, work: () => Promise<T>): Promise<T> {
  await runner.query(begin);
  try {
    const result = await work();
    await runner.query('COMMIT');
    return result;
  } catch (error) {
    await runner.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
