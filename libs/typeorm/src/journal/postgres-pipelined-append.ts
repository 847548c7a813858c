import { QueryFailedError, type DataSource, type QueryRunner } from 'typeorm';
import { driverErrorOf } from '../dialects/driver-error.js';
import type { SimpleQueryClient } from '../transactions/run-simple-query-string.js';
import { forgetPrepared, INVALID_SQL_STATEMENT_NAME, prepareOnce, type PerConnectionStatement } from './postgres-decision-locks.js';
import { postgresParameterText } from './postgres-inline-parameters.js';
import type { OneStatementAppendRow } from './postgres-one-statement-append.js';

/**
 * The condition a pipelined append ANDs into its checks: its implicit transaction runs at the
 * session's default isolation level (`default_transaction_isolation`), and the check is sound only
 * under READ COMMITTED (see {@link appendPipelined}). Under another level the append writes nothing.
 */
export const READ_COMMITTED_GATE = "current_setting('transaction_isolation') = 'read committed'";

/**
 * The decision locks as one statement prepared once per connection, for any number of keys: `$1`
 * the keys in ascending order, `$2` whether each is exclusive. The function scan yields the
 * arrays' elements in order and the aggregate evaluates its argument row by row, so the locks are
 * taken in the arrays' order (the order that keeps two conditional appends from deadlocking);
 * `locks` counts them (the journal checks it). It also answers the transaction's isolation level
 * and sets, for the transaction, what the append's EXECUTE needs (see `appendInOneRoundTrip` for
 * why each): its generic plan, no table scan, no sort, no JIT.
 */
const DECISION_LOCKS: PerConnectionStatement = {
  name: 'chronicle_decision_locks_v1',
  text:
    'SELECT count((CASE WHEN u.exclusive THEN pg_advisory_xact_lock(u.key) ELSE pg_advisory_xact_lock_shared(u.key) END) IS NULL) AS locks, ' +
    "current_setting('transaction_isolation') AS isolation, " +
    "set_config('plan_cache_mode', 'force_generic_plan', true) AS plan_cache_mode, set_config('enable_seqscan', 'off', true) AS enable_seqscan, " +
    "set_config('enable_sort', 'off', true) AS enable_sort, set_config('jit', 'off', true) AS jit " +
    'FROM unnest($1::bigint[], $2::boolean[]) AS u(key, exclusive)',
  args: [],
};

/** How the DataSource's logger sees a pipeline: this line, then the two statements' texts (their parameters after). */
export const PIPELINE_LOG_PREFIX = '-- pipelined (extended protocol, one Sync): the decision locks, then the append';

/** What a pipelined append answers: the isolation level its transaction ran at, and the append statement's rows. */
export interface PipelinedAppendAnswer {
  /** `transaction_isolation` of the implicit transaction; the append wrote nothing unless it is `read committed`. */
  isolation: string;
  /** The append statement's rows (see `oneStatementAppend`); the first one's `ok` says whether it wrote. */
  rows: OneStatementAppendRow[];
}

/** The part of node-postgres's connection a pipeline writes to (`pg/lib/connection.js`). */
interface WireConnection {
  stream: { cork?: () => void; uncork?: () => void };
  bind(config: { statement: string; values: Array<string | null> }): void;
  execute(config: Record<string, never>): void;
  sync(): void;
  sendCopyFail(message: string): void;
}

/** A DataRow as node-postgres's protocol parser hands it over: each column's text, or null. */
interface DataRowMessage {
  fields: Array<string | null>;
}

/**
 * Bind and Execute of each step (named statements, prepared already), then one Sync: a query
 * object node-postgres's `Client.query` accepts (its "submittable" interface, the one pg-cursor
 * uses), written because node-postgres sends a Sync after every query it builds itself, and each
 * Sync ends a transaction. No Describe is sent: the rows come back as the columns' text in the
 * statements' select-list order, which the caller knows.
 */
class PipelinedSteps {
  private readonly results: Array<Array<Array<string | null>>> = [];
  private current: Array<Array<string | null>> = [];

  constructor(
    private readonly steps: ReadonlyArray<{ statement: string; values: Array<string | null> }>,
    private readonly settle: (error: unknown, results?: Array<Array<Array<string | null>>>) => void,
  ) {}

  submit(connection: WireConnection): null {
    connection.stream.cork?.();
    try {
      for (const step of this.steps) {
        connection.bind({ statement: step.statement, values: step.values });
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
   * An ErrorResponse (or a lost connection). node-postgres drops its active query at once; the
   * server skips the messages up to the Sync, rolls the implicit transaction back (nothing of it
   * stays, its locks are released) and its ReadyForQuery lets the connection's next query go.
   */
  handleError(error: unknown): void {
    this.settle(error);
  }

  handleReadyForQuery(): void {
    this.settle(undefined, this.results);
  }
}

/**
 * PostgreSQL: a conditional unit as the decision locks and the append in ONE pipeline of the
 * extended protocol, with bound parameters: Bind and Execute of {@link DECISION_LOCKS}, Bind and
 * Execute of `append` (prepared once per connection, like the lock statement), one Sync. Neither
 * BEGIN nor COMMIT: the messages before a Sync run as one implicit transaction, which the Sync
 * commits (or rolls back after an error). It replaces `appendInOneRoundTrip`'s query string
 * (BEGIN, the locks as literals, EXECUTE with literals, COMMIT) where the check can be written for
 * a generic plan: measured on the bench's shape (16 callers, disjoint tags), about 100 µs less
 * PostgreSQL CPU per unit (no statements to parse, no literals to read).
 *
 * Why the check still sees every unit that held a conflicting lock before: the server handles the
 * messages in order, so the append's Bind (which chooses its plan) and Execute (which takes its
 * snapshot: a data-modifying statement's portal takes it when it runs) come after the lock
 * statement returned, that is after every lock was granted and every conflicting unit holding one
 * had committed; under READ COMMITTED every statement takes a new snapshot. The implicit
 * transaction runs at the session's default level, so the append carries
 * {@link READ_COMMITTED_GATE} and writes nothing under another: the caller reads `isolation` and
 * appends another way. test/journal/postgres-decision-locks.int-spec.ts checks it against a unit
 * committed while the pipeline waited for its lock.
 *
 * A connection that lost its prepared statements (DISCARD ALL) has them prepared again and the
 * pipeline sent once more; a second loss throws the server's error (26000) for the caller to
 * stop using prepared statements.
 */
export async function appendPipelined(
  dataSource: DataSource,
  keys: ReadonlyMap<bigint, boolean>,
  append: { name: string; text: string; values: readonly unknown[] },
): Promise<PipelinedAppendAnswer> {
  const sorted = [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lockValues = [
    `{${sorted.map(([key]) => BigInt.asIntN(64, key).toString()).join(',')}}`,
    `{${sorted.map(([, exclusive]) => (exclusive ? 't' : 'f')).join(',')}}`,
  ];
  const appendValues = append.values.map(postgresParameterText);
  const appendStatement: PerConnectionStatement = { name: append.name, text: append.text, args: [] };
  const runner: QueryRunner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as SimpleQueryClient & { query(submittable: PipelinedSteps): unknown };
    for (let attempt = 1; ; attempt++) {
      await prepareOnce(dataSource, runner, client, DECISION_LOCKS);
      await prepareOnce(dataSource, runner, client, appendStatement);
      dataSource.logger.logQuery(`${PIPELINE_LOG_PREFIX}\n${DECISION_LOCKS.text};\n${append.text}`, [...lockValues, ...appendValues], runner);
      let results: Array<Array<Array<string | null>>>;
      try {
        results = await new Promise((resolve, reject) => {
          client.query(
            new PipelinedSteps(
              [
                { statement: DECISION_LOCKS.name, values: lockValues },
                { statement: append.name, values: appendValues },
              ],
              (error, answer) => (error === undefined ? resolve(answer!) : reject(error)),
            ),
          );
        });
      } catch (error) {
        if (attempt === 1 && driverErrorOf(error)?.code === INVALID_SQL_STATEMENT_NAME) {
          forgetPrepared(client);
          continue;
        }
        dataSource.logger.logQueryError(error as Error, append.text, [...lockValues, ...appendValues], runner);
        throw new QueryFailedError(append.text, [...appendValues], error as Error);
      }
      const [locks, rows] = results;
      const lockRow = locks?.[0];
      if (results.length !== 2 || lockRow === undefined || rows === undefined || Number(lockRow[0]) !== sorted.length) {
        throw new Error(`The pipelined append expected the lock statement to take ${sorted.length} locks and the append to answer; got ${JSON.stringify(results)}`);
      }
      return {
        isolation: String(lockRow[1]),
        rows: rows.map(([ok, position, eventId, txId]) => ({ ok: ok === 't', position, event_id: eventId ?? null, tx_id: txId ?? null })),
      };
    }
  } finally {
    await runner.release();
  }
}
