import { QueryFailedError, type DataSource, type QueryRunner } from 'typeorm';
import { driverErrorOf } from '../dialects/driver-error.js';
import { INVALID_SQL_STATEMENT_NAME } from './postgres-decision-locks.js';
import { postgresParameterText } from './postgres-inline-parameters.js';
import type { OneStatementAppendRow } from './postgres-one-statement-append.js';

/**
 * The condition a pipelined append ANDs into its checks, besides the lock statement's own refusal
 * (see {@link DECISION_LOCKS}): the check is sound only under READ COMMITTED.
 */
export const READ_COMMITTED_GATE = "current_setting('transaction_isolation') = 'read committed'";

/** SQLSTATE of `SET TRANSACTION ISOLATION LEVEL` (here `set_config('transaction_isolation', …)`) after the transaction's first snapshot. */
export const ISOLATION_ALREADY_SET = '25001';

/** A statement the pipeline binds by name, Parsed in the pipeline itself the first time a connection meets it. */
interface NamedStatement {
  name: string;
  text: string;
}

/**
 * The decision locks as one statement for any number of keys: `$1` the keys in ascending order,
 * `$2` whether each is exclusive; one row per key, taken in the arrays' order (the function scan
 * yields their elements in order and each row's select list runs as it passes), the order that
 * keeps two conditional appends from deadlocking. The caller counts the rows. Before the first
 * row, once (an uncorrelated subquery: a one-time filter), it sets for the transaction:
 * - `transaction_isolation` to READ COMMITTED. The implicit transaction of a pipeline runs at the
 *   session's default level; at READ COMMITTED this changes nothing, at any other level PostgreSQL
 *   refuses it (25001, {@link ISOLATION_ALREADY_SET}: the statement's snapshot is taken already),
 *   so the pipeline fails before it takes a lock or touches a row, and the journal appends another way;
 * - what the append's Bind and Execute need (see `appendInOneRoundTrip` for why each): its
 *   generic plan, no table scan, no sort, no JIT.
 */
const DECISION_LOCKS: NamedStatement = {
  name: 'chronicle_decision_locks_v2',
  text:
    'SELECT (CASE WHEN u.exclusive THEN pg_advisory_xact_lock(u.key) ELSE pg_advisory_xact_lock_shared(u.key) END) IS NULL AS unlocked ' +
    'FROM unnest($1::bigint[], $2::boolean[]) AS u(key, exclusive) ' +
    "WHERE (SELECT concat(set_config('transaction_isolation', 'read committed', true), set_config('plan_cache_mode', 'force_generic_plan', true), " +
    "set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true), set_config('jit', 'off', true))) <> ''",
};

/** How the DataSource's logger sees a pipeline: this line, then the two statements' texts (their parameters after). */
export const PIPELINE_LOG_PREFIX = '-- pipelined (extended protocol, one Sync): the decision locks, then the append';

/** The part of node-postgres's connection a pipeline writes to (`pg/lib/connection.js`). */
interface WireConnection {
  stream: { cork?: () => void; uncork?: () => void };
  close(config: { type: 'S'; name: string }): void;
  parse(config: { name: string; text: string }): void;
  bind(config: { statement: string; values: Array<string | null> }): void;
  execute(config: Record<string, never>): void;
  sync(): void;
  sendCopyFail(message: string): void;
}

/** The node-postgres client behind a TypeORM query runner, as far as a pipeline needs it. */
interface PipelineClient {
  connection?: Partial<WireConnection>;
  pipeline?: boolean;
  /** The ReadyForQuery status: 'I' idle, 'T' in a transaction block, 'E' in a failed one. */
  getTransactionStatus?(): string | null;
  query(submittable: PipelinedSteps): unknown;
}

/** A DataRow as node-postgres's protocol parser hands it over: each column's text, or null. */
interface DataRowMessage {
  fields: Array<string | null>;
}

type StepResults = Array<Array<Array<string | null>>>;

/**
 * Parse (when `parse`), Bind and Execute of each step, then one Sync: a query object
 * node-postgres's `Client.query` accepts (its "submittable" interface, the one pg-cursor uses),
 * written because node-postgres ends every query it builds itself with a Sync, and each Sync ends
 * a transaction. No Describe is sent: the rows come back as the columns' text in the statements'
 * select-list order, which the caller knows. It answers through `callback`, which node-postgres
 * wraps (to clear a `query_timeout` timer, for one).
 */
class PipelinedSteps {
  private readonly results: StepResults = [];
  private current: Array<Array<string | null>> = [];

  constructor(
    private readonly steps: ReadonlyArray<{ statement: NamedStatement; parse: boolean; values: Array<string | null> }>,
    public callback: (error: unknown, results?: StepResults) => void,
  ) {}

  submit(connection: WireConnection): null {
    connection.stream.cork?.();
    try {
      for (const step of this.steps) {
        if (step.parse) {
          // Close first: a statement of that name left by a pipeline that failed after its Parse ran
          // is dropped (closing a missing one is no error), so the Parse never meets 42P05, and
          // PgBouncer, which records every Parse it passes on, forgets its own mapping too.
          connection.close({ type: 'S', name: step.statement.name });
          connection.parse({ name: step.statement.name, text: step.statement.text });
        }
        connection.bind({ statement: step.statement.name, values: step.values });
        connection.execute({});
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(): void {}

  handleDataRow(message: DataRowMessage): void {
    this.current.push(message.fields);
  }

  handleCommandComplete(): void {
    this.results.push(this.current);
    this.current = [];
  }

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: WireConnection): void {
    connection.sendCopyFail('Chronicle: no COPY in a pipelined append');
  }

  handleCopyData(): void {}

  /**
   * An ErrorResponse (or a lost connection, a `query_timeout`). node-postgres drops its active
   * query at once; the server skips the messages up to the Sync, rolls the implicit transaction
   * back (nothing of it stays, its locks are released) and its ReadyForQuery lets the
   * connection's next query go.
   */
  handleError(error: unknown): void {
    this.callback(error);
  }

  handleReadyForQuery(): void {
    this.callback(undefined, this.results);
  }
}

/** The statements each node-postgres client has Parsed through a pipeline (a reconnect is a new client). */
const parsedOnClient = new WeakMap<object, Set<string>>();

/**
 * Whether `appendPipelined` can run on this DataSource's connections: node-postgres's JavaScript
 * client (the native one, which TypeORM picks when `pg-native` is installed, has no wire
 * connection to write to) outside its own `pipeline` mode (which refuses custom query objects).
 */
function pipelineClient(client: unknown): PipelineClient | undefined {
  const candidate = client as PipelineClient;
  const connection = candidate.connection;
  const usable =
    candidate.pipeline !== true &&
    typeof connection?.close === 'function' &&
    typeof connection?.parse === 'function' &&
    typeof connection.bind === 'function' &&
    typeof connection.execute === 'function' &&
    typeof connection.sync === 'function';
  return usable ? candidate : undefined;
}

/**
 * PostgreSQL: a conditional unit as the decision locks and the append in ONE pipeline of the
 * extended protocol, with bound parameters: Bind and Execute of {@link DECISION_LOCKS}, Bind and
 * Execute of `append`, one Sync (each statement Parsed by name in the same pipeline the first time
 * a connection meets it: a protocol-level prepared statement, which PgBouncer's
 * `max_prepared_statements` tracks). Neither BEGIN nor COMMIT: the messages before a Sync run as
 * one implicit transaction, which the Sync commits (or rolls back after an error). It replaces
 * `appendInOneRoundTrip`'s query string (BEGIN, the locks as literals, EXECUTE with literals,
 * COMMIT) where the check can be written for a generic plan: measured on the bench's shape (16
 * callers, disjoint tags), about 100 µs less PostgreSQL CPU per unit (no statements to parse, no
 * literals to read).
 *
 * Why the check still sees every unit that held a conflicting lock before: the server handles the
 * messages in order, so the append's Bind (which chooses its plan and takes a snapshot for its
 * parameters) and Execute (which takes its snapshot: a data-modifying statement's portal takes it
 * when it runs) come after the lock statement returned, that is after every lock was granted and
 * every conflicting unit holding one had committed; under READ COMMITTED every statement takes a
 * new snapshot. The lock statement refuses any other level before it locks (see
 * {@link DECISION_LOCKS}) and the append carries {@link READ_COMMITTED_GATE} besides.
 * test/journal/postgres-decision-locks.int-spec.ts checks it against a unit committed while the
 * pipeline waited for its lock; postgres-decision-locks-isolation-level.int-spec.ts under other defaults.
 *
 * Answers the append statement's rows; 'unusable' when this DataSource's client cannot carry a
 * pipeline (see `pipelineClient`), 'busy' when the connection is inside a transaction block
 * (nothing was sent either way). A connection that lost its statements (DISCARD ALL) has them
 * Parsed again and the pipeline sent once more; a second loss throws the server's error (26000)
 * for the caller to stop using prepared statements. Values are sent as text
 * ({@link postgresParameterText}, which throws `UnsafeSqlLiteralError` for a value it cannot write).
 */
export async function appendPipelined(
  dataSource: DataSource,
  keys: ReadonlyMap<bigint, boolean>,
  append: NamedStatement & { values: readonly unknown[] },
): Promise<OneStatementAppendRow[] | 'unusable' | 'busy'> {
  const sorted = [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lockValues = [
    `{${sorted.map(([key]) => BigInt.asIntN(64, key).toString()).join(',')}}`,
    `{${sorted.map(([, exclusive]) => (exclusive ? 't' : 'f')).join(',')}}`,
  ];
  const appendValues = append.values.map(postgresParameterText);
  const logText = `${PIPELINE_LOG_PREFIX}\n${DECISION_LOCKS.text};\n${append.text}`;
  const logValues = [...lockValues, ...appendValues];
  const runner: QueryRunner = dataSource.createQueryRunner();
  try {
    const client = pipelineClient(await runner.connect());
    if (client === undefined) return 'unusable';
    // Only from an idle session: inside a transaction block the Sync would not commit, and the
    // unit would be reported written while its fate is another transaction's. TypeORM releases
    // connections idle; the pool of an application's own code might not.
    const status = client.getTransactionStatus?.();
    if (status !== undefined && status !== null && status !== 'I') return 'busy';
    let parsed = parsedOnClient.get(client);
    if (parsed === undefined) parsedOnClient.set(client, (parsed = new Set()));
    for (let attempt = 1; ; attempt++) {
      const steps = [
        { statement: DECISION_LOCKS, parse: !parsed.has(DECISION_LOCKS.name), values: lockValues },
        { statement: append, parse: !parsed.has(append.name), values: appendValues },
      ];
      dataSource.logger.logQuery(logText, logValues, runner);
      let results: StepResults;
      try {
        results = await new Promise<StepResults>((resolve, reject) => {
          client.query(new PipelinedSteps(steps, (error, answer) => (error === undefined ? resolve(answer!) : reject(error))));
        });
      } catch (error) {
        // After an error the server skipped the rest up to the Sync: a Parse sent may or may not
        // have run, so those statements count as not Parsed (the next pipeline Closes and Parses
        // them again). Lost ones (DISCARD ALL, DEALLOCATE: 26000) likewise, and the unit is sent once more.
        const code = driverErrorOf(error)?.code;
        for (const step of steps) if (step.parse || code === INVALID_SQL_STATEMENT_NAME) parsed.delete(step.statement.name);
        if (attempt === 1 && code === INVALID_SQL_STATEMENT_NAME) continue;
        dataSource.logger.logQueryError(error as Error, logText, logValues, runner);
        throw new QueryFailedError(logText, logValues, error as Error);
      }
      for (const step of steps) parsed.add(step.statement.name);
      const [locks, rows] = results;
      // The Sync committed already: a mismatch here is a bug to report, not a unit to retry.
      if (results.length !== 2 || locks?.length !== sorted.length || rows === undefined) {
        throw new Error(`The pipelined append expected ${sorted.length} lock rows and the append's rows; got ${JSON.stringify(results)}`);
      }
      return rows.map(([ok, position, eventId, txId]) => ({ ok: ok === 't', position, event_id: eventId ?? null, tx_id: txId ?? null }));
    }
  } finally {
    await runner.release();
  }
}
