import { createHash } from 'node:crypto';
import { QueryFailedError, type DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { ChronicleError, type AppendCondition, type StreamWrite } from '@chronicle/core';
import { driverErrorOf } from '../dialects/driver-error.js';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { executeSql } from '../transactions/execute-sql.js';
import { runSimpleQueryString, type SimpleQueryClient } from '../transactions/run-simple-query-string.js';

/** Locks per statement: far below PostgreSQL's 1664 columns of a select list. */
const LOCKS_PER_STATEMENT = 500;

/** A lock key: a type or any type (null), a tag or any tag (null). */
type KeyParts = readonly [type: string | null, tag: string | null];

/**
 * PostgreSQL: the transaction-scoped advisory locks a conditional append takes, in one global order,
 * before it checks its condition. Only decisions that could conflict serialize.
 *
 * A key stands for a (type, tag) pair, either of which may be "any". A new event of type `t` with
 * tags `S` is covered by the SHARED keys (t, s), (t, any), (any, s) for every s in S, and (any, any).
 * A condition item with types T and tags G takes the EXCLUSIVE keys (t, g) for every t in T (any
 * when T is empty), where g is the item's first tag in code-point order (any when G is empty). An
 * event matches the item only if its type is in T (or T is empty) and it carries every tag of G,
 * g included, so the event's shared keys include the item's exclusive key: a decision whose
 * condition matches another unit's new events always shares a key with it, in conflicting modes.
 * Two units that only write (shared, shared), or whose conditions match none of the other's events
 * (different tags), share no key in conflicting modes and never wait for each other. A type-only
 * item takes (t, any), which every new event of type t holds shared; an item without types takes
 * (any, g); the item {} takes (any, any) and serializes with every conditional append.
 *
 * Keys are 64-bit hashes of `namespace` and the pair. `namespace` is the events table's
 * schema-qualified name as the database resolves it ({@link decisionLockNamespace}), not as it is
 * configured: two instances on one table, one naming its schema and one reaching it through its
 * search_path, must take the same keys, or each would lock alone and both could commit on one read.
 * A collision (or another user of advisory locks with the same number) can only make two appends
 * wait for each other, never let a conflict through. Locks are taken in ascending key order, exclusive where a unit has a key in
 * both modes, so two conditional appends never deadlock on them; they are taken before any row is
 * locked, and appends without a condition take none.
 */
export function decisionLockKeys(namespace: string, condition: AppendCondition, writes: readonly StreamWrite[]): Map<bigint, boolean> {
  const keys = new Map<bigint, boolean>();
  const add = (parts: KeyParts, exclusive: boolean): void => {
    const key = hashKey(namespace, parts);
    keys.set(key, exclusive || keys.get(key) === true);
  };
  for (const item of condition.failIfEventsMatch) {
    const tags = [...(item.tags ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const tag = tags[0] ?? null;
    const types = item.types === undefined || item.types.length === 0 ? [null] : item.types;
    for (const type of types) add([type, tag], true);
  }
  for (const write of writes) {
    for (const event of write.events) {
      for (const type of [event.type, null]) {
        add([type, null], false);
        for (const tag of event.tags) add([type, tag], false);
      }
    }
  }
  return keys;
}

/**
 * Lock keys already hashed, by their JSON text: at most this many are kept (a type and a tag are
 * at most 256 characters each, `EVENT_QUERY_LIMITS`, so a few megabytes at the most).
 */
const HASHED_KEYS_KEPT = 10_000;
const hashedKeys = new Map<string, bigint>();

/**
 * The key's 64-bit number. The hash is SHA-256 because every instance, of every version, must
 * reach the same number for the same pair (a different function would let two versions running
 * side by side take different locks for one conflict); it costs about 3 µs a key, and a
 * conditional append takes four or more, so the numbers of the pairs used last are kept (the same
 * types and tags come back decision after decision). Past the bound the least recently used go first.
 */
function hashKey(namespace: string, parts: KeyParts): bigint {
  const text = JSON.stringify([namespace, ...parts]);
  let key = hashedKeys.get(text);
  if (key === undefined) {
    key = createHash('sha256').update(text).digest().readBigInt64BE(0);
    if (hashedKeys.size >= HASHED_KEYS_KEPT) hashedKeys.delete(hashedKeys.keys().next().value!);
  } else {
    // Used again: to the back of the Map's insertion order, the last to go.
    hashedKeys.delete(text);
  }
  hashedKeys.set(text, key);
  return key;
}

/**
 * The namespace of an events table's decision lock keys (see {@link decisionLockKeys}): its schema
 * and name as PostgreSQL resolves `eventsTable` (the configured, quoted and possibly unqualified
 * name) on this DataSource's connections, search_path applied, each quoted as Chronicle quotes
 * identifiers (`"schema"."table"`). So every spelling of one table gives one namespace, and a
 * configured schema gives the text earlier versions hashed (their keys stay the same). One round
 * trip: a journal asks once and keeps the answer (see `TypeOrmJournal`).
 *
 * Throws a `ChronicleError` when the table does not exist (yet): the append would fail on it
 * anyway, and a namespace guessed from the configured name is the bug this resolution prevents.
 */
export async function decisionLockNamespace(dataSource: DataSource, eventsTable: string): Promise<string> {
  const rows = (await dataSource.query(
    'SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)',
    [eventsTable],
  )) as Array<{ nspname: string; relname: string }>;
  const [row] = rows;
  if (row === undefined) {
    throw new ChronicleError(
      `The events table ${eventsTable} does not exist on this connection's search_path, so a conditional append cannot take its decision locks: ` +
        "run Chronicle's migrations (or check the schema and tablePrefix options) before appending.",
      { code: 'EventsTableMissing' },
    );
  }
  return `${postgresDialect.quoteIdentifier(row.nspname)}.${postgresDialect.quoteIdentifier(row.relname)}`;
}

/**
 * Takes the keys of {@link decisionLockKeys} in ascending order, as the first statements of the
 * transaction `manager` is in (the transactional path of a conditional append), after setting it
 * to READ COMMITTED: the check that follows must take its snapshot after the locks were granted,
 * and under the REPEATABLE READ or SERIALIZABLE a DataSource may configure (`isolationLevel`,
 * which TypeORM sets when the transaction starts) the locks' statement's snapshot would be the
 * check's too, blind to a conflicting unit that committed while this one waited for its lock.
 * SET TRANSACTION is still allowed there: no statement has taken a snapshot yet. One round trip:
 * the statements go as one simple-protocol query string (no parameters; the keys are 64-bit
 * integers written as literals, never text from a caller).
 */
export async function takeDecisionLocks(manager: EntityManager, keys: ReadonlyMap<bigint, boolean>): Promise<void> {
  await executeSql(manager, ['SET TRANSACTION ISOLATION LEVEL READ COMMITTED', ...lockStatements(keys)].join(';\n'));
}

/**
 * The statements taking `keys` in ascending key order, in as few statements as possible
 * (PostgreSQL evaluates a select list from left to right, so the order within a statement holds).
 */
function lockStatements(keys: ReadonlyMap<bigint, boolean>): string[] {
  const sorted = [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const statements: string[] = [];
  for (let start = 0; start < sorted.length; start += LOCKS_PER_STATEMENT) {
    const columns = sorted
      .slice(start, start + LOCKS_PER_STATEMENT)
      .map(([key, exclusive], index) => `${exclusive ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared'}(${BigInt.asIntN(64, key).toString()}::bigint) IS NULL AS l${index}`);
    statements.push(`SELECT ${columns.join(', ')}`);
  }
  return statements;
}

/** BEGIN and the lock statements of {@link decisionLockKeys}' keys, in ascending key order (the keys are 64-bit integers written as literals, never text from a caller). */
function beginWithLocks(keys: ReadonlyMap<bigint, boolean>): string[] {
  return ['BEGIN ISOLATION LEVEL READ COMMITTED', ...lockStatements(keys)];
}

/**
 * The transaction-local setting through which a conditional append's check statement hands its
 * answer to the append statement that follows it in the same transaction (see
 * {@link appendInOneRoundTrip}). SET LOCAL values end with the transaction, so no answer outlives it.
 */
const CONDITION_SETTING = 'chronicle.condition_holds';

/** The gate the prepared append statement ANDs into its checks: true only when this transaction's check said so. */
export const CONDITION_HOLDS_GATE = `current_setting('${CONDITION_SETTING}', true) = 'true'`;

/**
 * A statement prepared once per connection (`PREPARE name AS text`) and run as `EXECUTE
 * name(args)`, `args` being the values as literals (`postgresLiteral`) in placeholder order.
 */
export interface PerConnectionStatement {
  name: string;
  text: string;
  args: readonly string[];
}

/**
 * The append of a conditional unit as a statement prepared once per connection: either with the
 * condition inside it (written for a generic plan), or gated on {@link CONDITION_HOLDS_GATE}, the
 * answer of `check`, a statement of its own run just before it in the same transaction.
 */
export interface CheckedAppend {
  /**
   * The condition as a boolean SQL expression with its values as literals, run by a statement of
   * its own that hands its answer to `append`; absent when `append` evaluates the condition itself
   * (a check written for a generic plan, folded into it).
   */
  check?: string;
  append: PerConnectionStatement;
}

/** The check statement: hands the condition's answer (a boolean SQL expression) to the append that follows. */
export function conditionCheckSql(holds: string): string {
  return `SELECT set_config('${CONDITION_SETTING}', (${holds})::text, true)`;
}

/** Which per-connection statements each `pg` client has prepared (a reconnect is a new client). */
const preparedOnClient = new WeakMap<object, Set<string>>();

const DUPLICATE_PREPARED_STATEMENT = '42P05';
/** SQLSTATE of an EXECUTE whose prepared statement the session does not have. */
export const INVALID_SQL_STATEMENT_NAME = '26000';

/** PREPAREs `statement` on `client` unless this module did already; one extra round trip per connection and statement. */
async function prepareOnce(dataSource: DataSource, runner: QueryRunner, client: SimpleQueryClient, statement: PerConnectionStatement): Promise<void> {
  let names = preparedOnClient.get(client);
  if (names === undefined) preparedOnClient.set(client, (names = new Set()));
  if (names.has(statement.name)) return;
  const text = `PREPARE ${statement.name} AS ${statement.text}`;
  dataSource.logger.logQuery(text, [], runner);
  try {
    await client.query(text);
  } catch (error) {
    // The same text under the same name: prepared by an earlier module instance on this session.
    if (driverErrorOf(error)?.code !== DUPLICATE_PREPARED_STATEMENT) {
      dataSource.logger.logQueryError(error as Error, text, [], runner);
      throw new QueryFailedError(text, [], error as Error);
    }
  }
  names.add(statement.name);
}

function executeStatement(statement: PerConnectionStatement): string {
  // `EXECUTE name()` is a syntax error: a statement without parameters is executed without parentheses.
  return statement.args.length === 0 ? `EXECUTE ${statement.name}` : `EXECUTE ${statement.name}(${statement.args.join(', ')})`;
}

/**
 * Runs `BEGIN ISOLATION LEVEL READ COMMITTED; <the locks of keys>; <statement>; COMMIT` as ONE
 * simple-protocol query string (node-postgres sends a query without parameters as a simple Query
 * message), so a conditional unit costs one round trip, like a plain append. Returns the append
 * statement's rows. The append is either:
 * - `statement`, one statement with the condition folded into its checks and every value written
 *   in as a literal (`InlineSqlParameters`): PostgreSQL parses and plans all of it on every call;
 * - or a {@link CheckedAppend}: `plan_cache_mode` set to `force_generic_plan` for the transaction
 *   (in the lock statement) and `enable_seqscan`, `enable_sort` and `jit` off for its EXECUTE, `<check>; EXECUTE <append>(<literals>)`. The check hands the condition's answer to the append through a
 *   transaction-local setting ({@link conditionCheckSql}): either prepared too, written so that
 *   one plan suits every value (`conditionHoldsForGenericPlan`), or sent with its values as
 *   literals and planned with them. The append, whose plan does not depend on its values (every
 *   row is found by its key), is prepared once per connection and runs its generic plan, as the
 *   plain append does; it writes only when the check's answer is true. The first use of a
 *   statement on a connection costs one more round trip (its PREPARE); a connection that lost its
 *   prepared statements (DISCARD ALL) has the string rolled back, prepared again and sent once more.
 *
 * Why the check still sees every unit that held a conflicting lock before:
 * - PostgreSQL runs the statements of a simple query one after another, each parsed, planned and
 *   run on its own (`exec_simple_query` in src/backend/tcop/postgres.c loops over the parse trees;
 *   each gets its snapshot from `GetTransactionSnapshot()` when it is analyzed and when its
 *   portal starts, after the previous statement finished).
 * - Under READ COMMITTED, `GetTransactionSnapshot()` takes a new snapshot for every statement
 *   ("Within a transaction at this isolation level, each command starts with a new snapshot that
 *   includes the effects of all transactions committed up to that instant", mvcc.sgml, Read
 *   Committed Isolation Level). READ COMMITTED is stated in the BEGIN, whatever the DataSource's
 *   default: under REPEATABLE READ the lock statement's snapshot would be the append's too.
 * - So the check's snapshot (the check statement's, or the one statement's) is taken after the
 *   lock statement returned, that is after every lock was granted, hence after every conflicting
 *   unit that held one had committed (a transaction is visible before its locks are released).
 *   The append runs later in the same transaction, still holding the locks, and writes nothing
 *   unless that check held. test/journal/postgres-decision-locks.int-spec.ts ("one round trip:
 *   …") checks it against a unit committed while the string waited for the lock.
 *
 * Failures: the check failing is no error (`ok` false, nothing written) and COMMIT ends the empty
 * transaction in the same string. An error (a unique violation, a lock timeout) makes the server
 * skip the rest of the string and leaves the transaction block aborted: ROLLBACK ends it (a
 * second round trip, on failure only), and the error goes to the caller.
 */
export async function appendInOneRoundTrip<Row>(dataSource: DataSource, keys: ReadonlyMap<bigint, boolean>, statement: string | CheckedAppend): Promise<Row[]> {
  const statements = beginWithLocks(keys);
  const body: string[] = [];
  if (typeof statement === 'string') body.push(statement);
  else {
    // SET LOCAL as `set_config(…, true)` in the last lock statement's select list when there is
    // one: a statement fewer for the server to parse and run (each costs tens of microseconds).
    const generic = "set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode";
    // `enable_seqscan` and `enable_sort` off for the EXECUTE only: its generic plan is built at a
    // connection's first EXECUTE and kept for the connection's life (until an ANALYZE invalidates
    // it). Built while the journal was small (a new deployment, a fresh schema), it read the whole
    // events table for "the next 101 events after the cursor" (a scan, or every row after the
    // cursor through a bitmap, then a sort, looked cheaper than the index in its order) and the
    // streams table for the version update, on every conditional append until the next ANALYZE.
    // The append finds its streams by key and the events after a cursor in the (tx_id, position)
    // index's order, stopping at 101, so a plan that scans a table or sorts those events is never
    // the right one at any size (the sorts it cannot do without stay: a setting only weighs
    // against a path that has an alternative, by adding a huge cost to it). `jit` off with them:
    // that huge cost on an unavoidable sort put the plan past `jit_above_cost`, and compiling it
    // took 400 ms per EXECUTE (measured); a statement of a millisecond never gains from JIT. Set in
    // the select list of the statement just before the EXECUTE, so that statement (a check planned
    // with its values) is planned as usual: a setting takes effect once its statement runs.
    const noScans =
      "set_config('enable_seqscan', 'off', true) AS enable_seqscan, set_config('enable_sort', 'off', true) AS enable_sort, set_config('jit', 'off', true) AS jit";
    if (statements.length > 1) statements[statements.length - 1] += `, ${generic}`;
    else body.push(`SELECT ${generic}`);
    if (statement.check !== undefined) body.push(conditionCheckSql(statement.check));
    // The statement just before the EXECUTE: the check, the plan_cache_mode SELECT, or the last lock statement.
    const before = body.length > 0 ? body : statements;
    before[before.length - 1] += `, ${noScans}`;
    body.push(executeStatement(statement.append));
  }
  const text = [...statements, ...body, 'COMMIT'].join(';\n');
  const runner: QueryRunner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as SimpleQueryClient;
    let results: Array<{ rows: unknown[] }> | undefined;
    for (let attempt = 1; results === undefined; attempt++) {
      if (typeof statement !== 'string') {
        await prepareOnce(dataSource, runner, client, statement.append);
      }
      try {
        results = await runSimpleQueryString(dataSource, runner, client, text);
      } catch (error) {
        // The session lost its prepared statements (DISCARD ALL, DEALLOCATE): prepare them again, once.
        if (typeof statement !== 'string' && attempt === 1 && driverErrorOf(error)?.code === INVALID_SQL_STATEMENT_NAME) {
          preparedOnClient.delete(client);
          continue;
        }
        throw error;
      }
    }
    // BEGIN, the lock statements, the body, COMMIT: the append's result is the one before COMMIT's.
    const own = results[statements.length + body.length - 1];
    if (results.length !== statements.length + body.length + 1 || own === undefined) {
      throw new Error(`Expected ${statements.length + body.length + 1} results from the one-round-trip append, got ${results.length}`);
    }
    return own.rows as Row[];
  } finally {
    await runner.release();
  }
}

/**
 * Runs `work` in a READ COMMITTED transaction that begins by taking `keys` (see
 * {@link decisionLockKeys}) in ascending order, and commits it: BEGIN and the locks go in one
 * round trip (a simple-protocol query of two statements; the keys are 64-bit integers written as
 * literals, never text from a caller), so a conditional unit costs three round trips: that one,
 * its statement, COMMIT. The journal uses it when the statement cannot be written without
 * parameters (see {@link appendInOneRoundTrip}). READ COMMITTED is stated, whatever the DataSource's default, because the
 * check's soundness needs each statement's snapshot to be taken after the locks were granted.
 */
export async function inDecisionTransaction<T>(dataSource: DataSource, keys: ReadonlyMap<bigint, boolean>, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const statements = beginWithLocks(keys);
  const runner: QueryRunner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    let begun = false;
    try {
      begun = true;
      // No parameters: node-postgres sends it with the simple protocol, which runs both statements.
      await runner.query(statements.join('; '));
      const result = await work(runner.manager);
      await runner.query('COMMIT');
      return result;
    } catch (error) {
      // The original error is what the caller needs; a failed rollback ends with the connection.
      if (begun) await runner.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await runner.release();
  }
}
