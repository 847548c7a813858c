import type { DataSource, EntityManager } from 'typeorm';
import { QueryFailedError } from 'typeorm';
import {
  AppendConditionConflictError,
  ChronicleError,
  checkAppendCondition,
  checkAppendOrigin,
  eventMatchesQuery,
  checkEventQuery,
  checkIntegerArgument,
  ConcurrencyError,
  DuplicateCommandError,
  InvalidArgumentError,
  systemClock,
} from '@chronicle/core';
import type {
  ReadLatestOptions,
  AppendCondition,
  AppendedStream,
  AppendRequest,
  AppendResult,
  Clock,
  CommandOutcome,
  CommandRecord,
  EventQuery,
  FeedBlocker,
  FeedCursor,
  FeedPage,
  Journal,
  ListStreamsOptions,
  NewEvent,
  QueryPage,
  ReadAllOptions,
  ReadByQueryOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamInfo,
  StreamWrite,
  UnitOfWorkParticipant,
} from '@chronicle/core';
import { combineAppendRequests } from '@chronicle/core/internal';
import { dialectOf } from '../dialects/dialect-of.js';
import { driverErrorOf } from '../dialects/driver-error.js';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlDialect, UniqueKey } from '../dialects/sql-dialect.js';
import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { resolveChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { planGeneration } from '../transactions/plan-generation.js';
import { preparedStatementName } from '../transactions/prepared-statement-name.js';
import { runInTransaction } from '../transactions/run-in-transaction.js';
import { runAutocommit } from '../transactions/run-autocommit.js';
import { runRead } from '../transactions/run-read.js';
import { sqliteWriteLock } from '../transactions/sqlite-write-lock.js';
import type { EventPageMemo, EventRow } from './event-row.js';
import { recordedEventFromRow } from './event-row.js';
import type { FeedQueryRow, JournalDialect } from './journal-dialect.js';
import { checkTransactionIds, rebaseTransactionIds, type TransactionIdRebase } from './postgres-transaction-ids.js';
import { cursorBelowBound, postgresJournalDialect } from './postgres-journal.dialect.js';
import { sqliteJournalDialect } from './sqlite-journal.dialect.js';
import { isAppendStatementParticipant, type AppendStatementParticipant } from './append-statement-participant.js';
import { oneStatementAppend, type OneStatementAppendRow } from './postgres-one-statement-append.js';
import {
  appendInOneRoundTrip,
  CONDITION_HOLDS_GATE,
  INVALID_SQL_STATEMENT_NAME,
  decisionLockKeys,
  decisionLockNamespace,
  inDecisionTransaction,
  takeDecisionLocks,
  type CheckedAppend,
} from './postgres-decision-locks.js';
import { InlineSqlParameters, postgresLiteral, UnsafeSqlLiteralError } from './postgres-inline-parameters.js';
import { appendPipelined, ISOLATION_ALREADY_SET, READ_COMMITTED_GATE } from './postgres-pipelined-append.js';

/** Options of {@link TypeOrmJournal}. */
export interface TypeOrmJournalOptions extends ChronicleTableOptions {
  /** Time source of the streams' bookkeeping timestamps. @default systemClock */
  clock?: Clock;
  /**
   * PostgreSQL: the one-statement append is a named prepared statement, parsed and planned once
   * per pooled connection instead of once per unit of work (about a millisecond less per command
   * at low load, measured). So are the feed reads of `readAll`, once per connection and plan
   * generation (see `planGeneration`). A conditional append's statement is prepared too, with SQL-level
   * PREPARE once per connection and EXECUTE inside its one-round-trip string. Turn off behind a
   * connection pooler in transaction mode: PgBouncer keeps protocol-level prepared statements from
   * 1.21 (with `max_prepared_statements`), but no transaction-mode pooler keeps SQL-level PREPARE.
   * Turned off, a conditional append is sent whole, its values as literals, planned on every call.
   * @default true
   */
  preparedStatements?: boolean;
}

// Ten parameters per event: 500 rows stay far below both drivers' parameter limits.
const EVENT_INSERT_CHUNK = 500;
const DEFAULT_LIST_LIMIT = 1000;
const UNIQUE_VIOLATION = '23505';

interface StreamRow {
  id: string;
  aggregate_type: string;
  version: unknown;
  deleted_up_to: unknown;
}

interface CommandRow {
  command_id: string;
  fingerprint: string;
  stream_id: string;
  aggregate_type: string;
  outcome: unknown;
  recorded_at: unknown;
}

/** An event about to be inserted, with the stream coordinates it gets and its encoded columns. */
interface PendingEvent {
  write: StreamWrite;
  event: NewEvent;
  version: number;
  payload: string;
  metadata: string;
  tags: string;
}

function invalidRequest(reason: string): ChronicleError {
  return new ChronicleError(`Append request is invalid: ${reason}. Nothing was written.`, { code: 'InvalidAppendRequest' });
}

function unknownCursor(argument: string, cursor: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    argument,
    cursor,
    'a feed cursor this journal handed out (readByQuery, readAll or an append result); a cursor of another database says nothing about this one',
  );
}

/** The part of a better-sqlite3 prepared statement the SQLite feed read uses. */
interface SqliteStatement {
  raw(toggle: boolean): SqliteStatement;
  all(...params: unknown[]): unknown[][];
}

/** The part of a better-sqlite3 Database the SQLite feed read uses. */
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

/** The `pg` client behind a TypeORM PostgreSQL query runner, as far as the feed read needs it. */
interface ArrayRowsClient {
  query(config: { name?: string; text: string; values: unknown[]; rowMode: 'array' }): Promise<{ rows: unknown[][] }>;
}

/**
 * A PostgreSQL feed row read as an array: the event columns, then the transaction id (the
 * dialect's `eventColumns`), then, from a statement that works the bound out, its checks (in the
 * order `feedQuery` selects them).
 */
function postgresFeedRowOfValues(values: unknown[]): FeedQueryRow {
  const row: FeedQueryRow = eventRowOfValues(values);
  row.tx_id = values[11] as string;
  if (values.length > 12) {
    row.feed_bound = values[12] as string;
    row.feed_xmax = values[13] as string | null;
    row.feed_newest_ahead = values[14] as string | null;
    row.feed_cursor_ahead = values[15] as boolean | null;
    row.feed_bound_finished = values[16] as boolean | null;
  }
  return row;
}

/** An events row read as an array, in the order of `EVENT_COLUMNS`, in the shape the decoders read. */
function eventRowOfValues(values: unknown[]): EventRow {
  return {
    position: values[0],
    stream_id: values[1] as string,
    version: values[2],
    aggregate_type: values[3] as string,
    event_id: values[4] as string,
    type: values[5] as string,
    schema_version: values[6],
    payload: values[7],
    metadata: values[8],
    tags: values[9],
    occurred_at: values[10],
    tx_id: undefined,
  };
}

function isTrue(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

/**
 * The event journal over TypeORM, on PostgreSQL and SQLite (better-sqlite3).
 *
 * `append` on PostgreSQL is one autocommit statement when every participant can join it
 * ({@link AppendStatementParticipant}, as the outbox store does) and no stream appears twice in the
 * unit: see {@link oneStatementAppend}. Otherwise, and to name the conflict when that statement
 * found one, it runs one transaction: the stream rows first, in stream-id order (the lock order that
 * keeps concurrent multi-stream appends from deadlocking, and the first write, so PostgreSQL
 * assigns the transaction id there), then the events in multi-row inserts, then the command
 * records, then the participants with the transaction's EntityManager. Expected conflicts are
 * detected by statements that do not abort the transaction (`ON CONFLICT DO NOTHING RETURNING`,
 * `UPDATE … RETURNING`); anything else propagates unchanged.
 *
 * The global feed is gap-free: on PostgreSQL its cursor carries the writing transaction's id and
 * reads stop below the oldest running transaction; on SQLite positions are assigned in commit
 * order. Participants and callers on SQLite must not await another Chronicle operation inside a
 * unit of work (see `runInTransaction`).
 *
 * Versions are int4 on PostgreSQL, so a stream there ends at version 2^31 - 1 (`maxStoredVersion`);
 * version arguments past it never reach SQL: they read past the end, delete everything, or conflict.
 */
export class TypeOrmJournal implements Journal<EntityManager> {
  /** {@inheritDoc JournalStreams.appendsOverlap} True on PostgreSQL; on SQLite appends run on this thread. */
  readonly appendsOverlap: boolean;
  private readonly dialect: JournalDialect;
  private readonly sql: SqlDialect;
  private readonly tables: ChronicleTables;
  private readonly clock: Clock;
  private readonly participants: UnitOfWorkParticipant<EntityManager>[] = [];
  private readonly streamVersionKey: UniqueKey;
  private notifyChannel: string | undefined;
  private readonly preparedStatements: boolean;
  /** Set when SQL-level PREPARE did not stick to the session (see `appendUnderDecisionLocks`). */
  private sqlPrepareLost = false;
  /** PostgreSQL: conditional appends are not pipelined: the session's default isolation level is not READ COMMITTED, or the client cannot pipeline (see `appendPipelined`). */
  private pipelineRefused = false;
  /** PostgreSQL: the namespace of the decision lock keys, once asked for (see `lockNamespace`). */
  private resolvedLockNamespace: Promise<string> | undefined;
  /** PostgreSQL: a feed bound a full page returned, reused while catch-ups read full pages below it. */
  private feedBound: string | undefined;
  /**
   * PostgreSQL: the largest position of the last rows of the feed pages read in this process,
   * close to the events table's size (positions come from an identity: only the gaps of
   * rolled-back appends make them larger). The feed statements' plan generation follows it.
   */
  private largestPosition = 0;
  /** SQLite: the feed statements, prepared once on the driver's connection (by SQL text). */
  private readonly sqliteFeedStatements = new Map<string, { connection: SqliteConnection; statement: SqliteStatement }>();

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmJournalOptions = {},
  ) {
    this.sql = dialectOf(dataSource);
    this.dialect = this.sql.name === 'postgres' ? postgresJournalDialect : sqliteJournalDialect;
    this.appendsOverlap = this.sql.name === 'postgres';
    this.tables = resolveChronicleTables(options, this.sql);
    this.clock = options.clock ?? systemClock;
    this.preparedStatements = options.preparedStatements ?? true;
    this.streamVersionKey = {
      constraint: this.tables.name('events_stream_version_uq'),
      table: this.tables.name('events'),
      columns: ['stream_id', 'version'],
    };
  }

  /**
   * PostgreSQL: from now on, every unit of work that writes events also NOTIFYs `channel` (the
   * unit's `origin` as payload, '' without one; folded into the events insert, so it costs no round
   * trip; PostgreSQL sends one notification per channel, payload and transaction). Subscription
   * runners LISTEN to it to wake up sooner than their polling. No effect on SQLite.
   */
  enableNotifications(channel: string): void {
    if (this.sql.name === 'postgres') this.notifyChannel = channel;
  }

  /** {@inheritDoc JournalStreams.addParticipant} */
  addParticipant(participant: UnitOfWorkParticipant<EntityManager>): void {
    this.participants.push(participant);
  }

  /** {@inheritDoc JournalStreams.append} */
  async append(request: AppendRequest): Promise<AppendResult> {
    const pastLastVersion = this.validate(request);
    if (pastLastVersion >= 0) return this.refusePastLastVersion(request.writes[pastLastVersion]!, pastLastVersion);
    // Stable sort: two writes to one stream keep their order, so the second can expect the first's version.
    const ordered = [...request.writes].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
    // SQLite: no await before the write lock is asked for, so units take it in call order.
    const { condition } = request;
    if (condition === undefined && this.canAppendInOneStatement(ordered)) {
      const inOneStatement = await this.appendInOneStatement(request, ordered);
      if (inOneStatement) return inOneStatement;
    }
    if (condition !== undefined && this.canAppendInOneStatement(ordered)) {
      const conditional = await this.appendConditionalInOneStatement(request, ordered, condition);
      if (conditional) return conditional;
    }
    // PostgreSQL: asked for before the transaction holds a connection (the first time, the lookup
    // takes one of its own: inside, a pool of one would wait for itself). Never awaited on SQLite.
    const namespace = condition !== undefined && this.sql.name === 'postgres' ? await this.lockNamespace() : undefined;
    return runInTransaction(this.dataSource, async (manager) => {
      const now = this.clock.now();
      if (condition !== undefined && this.sql.name === 'postgres') {
        // Gated on the dialect, not on the namespace: a PostgreSQL unit without its locks or its
        // cursor check must fail here, never commit unchecked.
        if (namespace === undefined) {
          throw new ChronicleError('A conditional append on PostgreSQL reached its transaction without its decision lock namespace; report this as a bug. Nothing was written.');
        }
        // Before any row lock and before the check's snapshot, and the transaction set to READ
        // COMMITTED whatever the DataSource's isolationLevel: see takeDecisionLocks.
        await takeDecisionLocks(manager, decisionLockKeys(namespace, condition, ordered));
        await this.checkConditionCursor(manager, condition);
      }
      await this.advanceStreams(manager, ordered, now);
      if (condition !== undefined) {
        // SQLite: after the first write, which took the write lock (the file's, across processes).
        if (this.sql.name !== 'postgres') await this.checkConditionCursor(manager, condition);
        await this.checkCondition(manager, condition);
      }

      const pending = ordered.flatMap((write) =>
        write.events.map(
          (event, index): PendingEvent => ({
            write,
            event,
            version: write.expectedVersion + index + 1,
            payload: this.sql.encodeJson(event.payload),
            metadata: this.sql.encodeJson(event.metadata ?? {}),
            tags: this.sql.encodeJson(event.tags),
          }),
        ),
      );
      const inserted = await this.insertEvents(manager, pending, request.origin);
      const result = this.appendResult(request, inserted);
      await this.recordCommands(manager, request.commands ?? []);
      for (const participant of this.participants) await participant.participate(manager, request, result);
      return result;
    });
  }

  /**
   * PostgreSQL: a conditional unit in one round trip instead of about eight: BEGIN, the decision
   * locks, the one-statement append with the condition folded into its checks (its snapshot is
   * taken after the locks were granted, as the check's must be) and COMMIT, as one query string
   * (see `appendInOneRoundTrip`; three round trips when a value cannot be a literal). Undefined
   * when a check failed (nothing was written): the transactional path then writes the unit again
   * and names which check failed.
   */
  private async appendConditionalInOneStatement(
    request: AppendRequest,
    ordered: readonly StreamWrite[],
    condition: AppendCondition,
  ): Promise<AppendResult | undefined> {
    // A malformed cursor is named before any statement runs.
    if (condition.after !== null) this.knownStatement(condition.after, 'condition.after');
    const conditionHolds = this.dialect.conditionHolds?.bind(this.dialect);
    if (conditionHolds === undefined) return undefined;
    const holds = (params: SqlParameters): string => conditionHolds(this.tables, params, condition.after, condition.failIfEventsMatch);
    const forGenericPlan = this.dialect.conditionHoldsForGenericPlan?.bind(this.dialect);
    const genericHolds = (params: SqlParameters): string | undefined => forGenericPlan?.(this.tables, params, condition.after, condition.failIfEventsMatch);
    const keys = decisionLockKeys(await this.lockNamespace(), condition, ordered);
    const inserted = await this.appendUnderDecisionLocks(request, ordered, keys, holds, genericHolds);
    return inserted && this.appendResult(request, inserted);
  }

  /**
   * BEGIN with the decision locks `keys`, the one-statement append of `request` written only if
   * `holds` does, COMMIT: one query string with the values written in as literals (the check,
   * then the append prepared once per connection, see {@link TypeOrmJournal.checkedAppend}; with
   * `preparedStatements` off, one statement with `holds` ANDed into its checks), or, when a value
   * cannot be a literal (`UnsafeSqlLiteralError`), three round trips with bound parameters. The
   * inserted events' positions and cursors, or undefined when a check failed or a command id was
   * taken (the statement wrote nothing; the empty transaction is committed, or rolled back after a
   * unique violation, which releases the locks).
   *
   * Soundness (both ways): two conditional units whose conditions match the other's new events
   * share a decision lock key in conflicting modes (see `decisionLockKeys`), so one waits for the
   * other's commit and its check's snapshot, taken after the locks were granted, sees the other's
   * events: they never both commit. The check compares (transaction id, position) with the
   * decision's cursor, not positions alone, because positions are not commit-ordered on PostgreSQL.
   */
  private async appendUnderDecisionLocks(
    request: AppendRequest,
    ordered: readonly StreamWrite[],
    keys: Map<bigint, boolean>,
    holds: (params: SqlParameters) => string,
    genericHolds?: (params: SqlParameters) => string | undefined,
  ): Promise<Map<string, { position: number; cursor: FeedCursor }> | undefined> {
    const participants = this.participants.filter(isAppendStatementParticipant);
    if (this.preparedStatements && !this.sqlPrepareLost && !this.pipelineRefused && genericHolds?.(new SqlParameters(postgresDialect)) !== undefined) {
      const pipelined = await this.appendPipelined(request, ordered, participants, keys, genericHolds);
      if (pipelined !== 'another way') return pipelined && this.insertedOf(pipelined);
    }
    let rows: OneStatementAppendRow[] | undefined;
    let inline: string | CheckedAppend | undefined;
    const literal = (): string =>
      oneStatementAppend(this.tables, request, ordered, this.clock.now(), participants, this.notifyChannel, holds, new InlineSqlParameters()).sql;
    try {
      inline = this.preparedStatements && !this.sqlPrepareLost ? this.checkedAppend(request, ordered, participants, holds, genericHolds) : literal();
    } catch (error) {
      // A value no literal can carry (a NUL in a string): bound parameters, in three round trips,
      // where PostgreSQL refuses it as it refuses it in a plain append.
      if (!(error instanceof UnsafeSqlLiteralError)) throw error;
    }
    try {
      if (inline !== undefined) {
        let result: OneStatementAppendRow[];
        try {
          result = await appendInOneRoundTrip<OneStatementAppendRow>(this.dataSource, keys, inline);
        } catch (error) {
          // The session lost the statement again right after preparing it: a pooler in transaction
          // mode hands the PREPARE and the string to different server connections (PgBouncer keeps
          // only protocol-level prepared statements). From now on this journal sends the literal
          // statement, planned on every call, and says so once.
          if (typeof inline === 'string' || driverErrorOf(error)?.code !== INVALID_SQL_STATEMENT_NAME) throw error;
          this.sqlPrepareLost = true;
          this.dataSource.logger.log(
            'warn',
            'Chronicle: conditional appends lost their prepared statement twice in a row (a connection pooler in transaction mode?): ' +
              'they are sent with their values as literals from now on; set preparedStatements: false to say so up front.',
          );
          result = await appendInOneRoundTrip<OneStatementAppendRow>(this.dataSource, keys, literal());
        }
        rows = result[0]?.ok ? result : undefined;
      } else rows = await inDecisionTransaction(this.dataSource, keys, async (manager) => {
        const { sql, params } = oneStatementAppend(this.tables, request, ordered, this.clock.now(), participants, this.notifyChannel, holds);
        const result = await executeSql<OneStatementAppendRow>(manager, sql, params);
        return result.rows[0]?.ok ? result.rows : undefined;
      });
    } catch (error) {
      if (driverErrorOf(error)?.code === UNIQUE_VIOLATION) return undefined;
      throw error;
    }
    return rows && this.insertedOf(rows);
  }

  /** The inserted events of a one-statement append's rows, by event id: their positions and cursors. */
  private insertedOf(rows: readonly OneStatementAppendRow[]): Map<string, { position: number; cursor: FeedCursor }> {
    const inserted = new Map<string, { position: number; cursor: FeedCursor }>();
    for (const row of rows) {
      if (row.event_id === null) continue;
      inserted.set(row.event_id, { position: this.sql.decodeInteger(row.position), cursor: this.dialect.cursorAt(row) });
    }
    return inserted;
  }

  /**
   * A conditional unit whose check can be written for a generic plan, as the decision locks and
   * the append in one pipeline of the extended protocol with bound parameters (see
   * `appendPipelined`): the append's rows, undefined when a check failed or a command id was taken
   * (nothing was written), or 'another way' when the pipeline cannot carry this unit (nothing was
   * written either): from then on, when the session's default isolation level is not READ
   * COMMITTED (the journal then sends the query string that states the level) or the DataSource's
   * client cannot pipeline (node-postgres's native client, or its `pipeline` mode), or when the
   * connection lost the prepared statements twice (a pooler that cannot keep them:
   * `sqlPrepareLost`); for this unit only, when a value cannot be sent as text or the pooled
   * connection is inside a transaction block.
   */
  private async appendPipelined(
    request: AppendRequest,
    ordered: readonly StreamWrite[],
    participants: readonly AppendStatementParticipant[],
    keys: ReadonlyMap<bigint, boolean>,
    genericHolds: (params: SqlParameters) => string | undefined,
  ): Promise<OneStatementAppendRow[] | undefined | 'another way'> {
    const gated = (params: SqlParameters): string => `${READ_COMMITTED_GATE} AND ${genericHolds(params)!}`;
    const { sql, params } = oneStatementAppend(this.tables, request, ordered, this.clock.now(), participants, this.notifyChannel, gated);
    let rows: OneStatementAppendRow[] | 'unusable' | 'busy';
    try {
      rows = await appendPipelined(this.dataSource, keys, { name: preparedStatementName('chronicle_pipe_', sql), text: sql, values: params });
    } catch (error) {
      if (error instanceof UnsafeSqlLiteralError) return 'another way';
      const code = driverErrorOf(error)?.code;
      if (code === UNIQUE_VIOLATION) return undefined;
      if (code === ISOLATION_ALREADY_SET) {
        if (!this.pipelineRefused) {
          this.pipelineRefused = true;
          this.dataSource.logger.log(
            'warn',
            "Chronicle: this database session's default transaction isolation is not READ COMMITTED; conditional appends state READ COMMITTED in a transaction of their own from now on (a little slower).",
          );
        }
        return 'another way';
      }
      if (code !== INVALID_SQL_STATEMENT_NAME) throw error;
      if (!this.sqlPrepareLost) {
        this.sqlPrepareLost = true;
        this.dataSource.logger.log(
          'warn',
          'Chronicle: conditional appends lost their prepared statements twice in a row (a connection pooler in transaction mode?): ' +
            'they are sent with their values as literals from now on; set preparedStatements: false to say so up front.',
        );
      }
      return 'another way';
    }
    if (rows === 'busy') return 'another way';
    if (rows === 'unusable') {
      this.pipelineRefused = true;
      return 'another way';
    }
    return rows[0]?.ok ? rows : undefined;
  }

  /**
   * The conditional append as a check and the one-statement append gated on the check's answer,
   * prepared once per connection (see `appendInOneRoundTrip`). When the dialect can write the check
   * for a generic plan (`genericHolds`: a single unit with a cursor and tags in every item that
   * names types), it goes into the prepared append itself and no separate check runs; otherwise
   * the check's values are literals and it is planned with them.
   * Why: the whole statement with literals was parsed and planned on every call (planning alone
   * 0.3-0.7 ms, more than running it); a generic plan costs 0.02-0.03 ms to look up. The check
   * planned with its values also ANDed the tag's whole GIN posting list into the few events after
   * the cursor (0.1 ms at 675 events of the tag, growing with it). Measured at 16 callers on
   * disjoint tags (bench dcb's shape, PostgreSQL CPU of the run's own backends only, 4 interleaved
   * passes): 1,310 µs per conditional append with the literal statement, 920 with the prepared
   * append and a literal check, 807 with both prepared (a plain append: 503). The append's text
   * depends on the tables, the participants, whether there are commands and the notification
   * channel; the check's on the shape of the query: a handful of prepared statements per connection.
   */
  private checkedAppend(
    request: AppendRequest,
    ordered: readonly StreamWrite[],
    participants: readonly AppendStatementParticipant[],
    holds: (params: SqlParameters) => string,
    genericHolds: ((params: SqlParameters) => string | undefined) | undefined,
  ): CheckedAppend {
    const prepared = (sql: string, params: readonly unknown[]) => ({
      name: preparedStatementName('chronicle_cond_', sql),
      text: sql,
      args: params.map(postgresLiteral),
    });
    const now = this.clock.now();
    // A check written for a generic plan goes into the append statement itself: one prepared
    // statement runs both (its snapshot, taken after the lock statement, is the check's), a
    // statement fewer than a check handing its answer over (measured with the bench's shape, 16
    // callers, 4 interleaved passes: 785 against 985 µs of PostgreSQL CPU per unit; plain: 539).
    if (genericHolds?.(new SqlParameters(postgresDialect)) !== undefined) {
      const { sql, params } = oneStatementAppend(this.tables, request, ordered, now, participants, this.notifyChannel, (appendParams) => genericHolds(appendParams)!);
      return { append: prepared(sql, params) };
    }
    const { sql, params } = oneStatementAppend(this.tables, request, ordered, now, participants, this.notifyChannel, () => CONDITION_HOLDS_GATE);
    return { check: holds(new InlineSqlParameters()), append: prepared(sql, params) };
  }

  /**
   * {@inheritDoc JournalStreams.appendConditionalBatch}
   * PostgreSQL: in one round trip for the whole batch, like one conditional unit: BEGIN with the
   * union of the units' decision locks (taken together in ascending order, exclusive where any
   * unit needs a key exclusive), one statement holding every unit's writes, command records and
   * condition (ANDed into its checks; its snapshot is taken after the locks were granted), COMMIT.
   * Sound for the same reason as one unit: every unit keeps all the keys it would hold alone, and
   * within the batch no condition matches another unit's events (the caller's promise, checked
   * again here). Undefined on SQLite (a unit commits under the write lock anyway), when a unit
   * cannot join the statement, or when a check failed.
   */
  async appendConditionalBatch(requests: readonly AppendRequest[]): Promise<AppendResult[] | undefined> {
    if (this.sql.name !== 'postgres' || requests.length === 0) return undefined;
    const conditionHolds = this.dialect.conditionHolds?.bind(this.dialect);
    if (conditionHolds === undefined) return undefined;
    for (const request of requests) {
      if (request.condition === undefined || this.validate(request) >= 0) return undefined;
      if (request.condition.after !== null) this.knownStatement(request.condition.after, 'condition.after');
    }
    for (const [index, request] of requests.entries()) {
      for (const [otherIndex, other] of requests.entries()) {
        if (index === otherIndex) continue;
        const events = other.writes.flatMap((write) => write.events);
        if (events.some((event) => eventMatchesQuery(request.condition!.failIfEventsMatch, event.type, event.tags))) return undefined;
      }
    }
    const combined = combineAppendRequests(requests);
    const ordered = [...combined.writes].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
    if (!this.canAppendInOneStatement(ordered)) return undefined;
    const namespace = await this.lockNamespace();
    const keys = new Map<bigint, boolean>();
    for (const request of requests) {
      for (const [key, exclusive] of decisionLockKeys(namespace, request.condition!, request.writes)) keys.set(key, exclusive || keys.get(key) === true);
    }
    const holds = (params: SqlParameters): string =>
      requests.map((request) => `(${conditionHolds(this.tables, params, request.condition!.after, request.condition!.failIfEventsMatch)})`).join(' AND ');
    const inserted = await this.appendUnderDecisionLocks(combined, ordered, keys, holds);
    if (inserted === undefined) return undefined;
    return requests.map((request) => {
      const own = new Map(request.writes.flatMap((write) => write.events.map((event) => [event.eventId, inserted.get(event.eventId)!] as const)));
      return this.appendResult(request, own);
    });
  }

  /**
   * PostgreSQL: the namespace of this journal's decision lock keys, the events table as the
   * database resolves its configured name (see `decisionLockNamespace`). The first conditional
   * append asks (one round trip) and the answer is kept, so later ones cost nothing more; a failed
   * lookup is forgotten and the next append asks again.
   */
  private lockNamespace(): Promise<string> {
    this.resolvedLockNamespace ??= decisionLockNamespace(this.dataSource, this.tables.events).catch((error: unknown) => {
      this.resolvedLockNamespace = undefined;
      throw error;
    });
    return this.resolvedLockNamespace;
  }

  /**
   * Refuses a condition whose cursor this journal did not hand out (another database's, or a
   * malformed one): an unknown cursor cannot say which events the decision saw.
   */
  private async checkConditionCursor(manager: EntityManager, condition: AppendCondition): Promise<void> {
    if (condition.after === null) return;
    const { sql, params } = this.knownStatement(condition.after, 'condition.after');
    const { rows } = await executeSql<{ known: unknown }>(manager, sql, params);
    if (!isTrue(rows[0]?.known)) throw unknownCursor('condition.after', condition.after);
  }

  private knownStatement(cursor: FeedCursor, argument: string): { sql: string; params: unknown[] } {
    try {
      return this.dialect.knownCursor(this.tables, cursor);
    } catch {
      throw unknownCursor(argument, cursor);
    }
  }

  /**
   * The condition itself: the first event matching its query committed after its cursor fails the
   * unit. Why this cannot miss a concurrent commit:
   * - PostgreSQL: the statement runs after this unit took its advisory locks, so under READ
   *   COMMITTED (set by `takeDecisionLocks`, whatever the DataSource's isolation level) its snapshot sees every unit that held a conflicting lock before (a transaction is
   *   visible before its locks are released), and every conflicting unit that comes later waits
   *   for this one's commit and then sees its events. The cursor is where the decision's read
   *   ended below the feed's bound: every transaction below it had finished, so every matching
   *   event the read did not return sorts after the cursor in the (transaction id, position)
   *   order this check uses, even when positions commit out of order.
   * - SQLite: the unit holds the write lock, and positions are in commit order.
   */
  private async checkCondition(manager: EntityManager, condition: AppendCondition): Promise<void> {
    const { sql, params } = this.dialect.firstMatchAfter(this.tables, condition.after, condition.failIfEventsMatch);
    const { rows } = await executeSql<EventRow>(manager, sql, params);
    const [first] = rows;
    if (first !== undefined) throw new AppendConditionConflictError(condition.failIfEventsMatch, condition.after, this.decodeRow(first));
  }

  /**
   * Whether the unit can be one autocommit statement ({@link oneStatementAppend}): PostgreSQL,
   * every participant writes inside it, and no stream appears twice.
   */
  private canAppendInOneStatement(ordered: readonly StreamWrite[]): boolean {
    if (this.sql.name !== 'postgres' || !this.participants.every(isAppendStatementParticipant)) return false;
    for (let index = 1; index < ordered.length; index++) if (ordered[index]!.streamId === ordered[index - 1]!.streamId) return false;
    return true;
  }

  /**
   * The unit as one statement; undefined when the statement found a conflict (it then wrote
   * nothing): the transactional path writes the unit again and names the conflict precisely.
   */
  private async appendInOneStatement(request: AppendRequest, ordered: readonly StreamWrite[]): Promise<AppendResult | undefined> {
    const participants = this.participants.filter(isAppendStatementParticipant);
    const { sql, params } = oneStatementAppend(this.tables, request, ordered, this.clock.now(), participants, this.notifyChannel);
    let rows: OneStatementAppendRow[];
    try {
      rows = await runAutocommit<OneStatementAppendRow>(this.dataSource, sql, params, { prepare: this.preparedStatements });
    } catch (error) {
      // A stream created or a command id recorded by another unit meanwhile (or an event id
      // stored already): nothing was written, and the transaction names which.
      if (driverErrorOf(error)?.code === UNIQUE_VIOLATION) return undefined;
      throw error;
    }
    if (!rows[0]?.ok) return undefined;
    const inserted = new Map<string, { position: number; cursor: FeedCursor }>();
    for (const row of rows) {
      if (row.event_id === null) continue;
      inserted.set(row.event_id, { position: this.sql.decodeInteger(row.position), cursor: this.dialect.cursorAt(row) });
    }
    return this.appendResult(request, inserted);
  }

  /**
   * The result of an append. It hands back the request's own payload, metadata and tags: what is
   * stored lives in the database, so sharing them costs nothing, and parsing them back on the hot
   * path would.
   */
  private appendResult(request: AppendRequest, inserted: ReadonlyMap<string, { position: number; cursor: FeedCursor }>): AppendResult {
    const streams: AppendedStream[] = request.writes.map((write) => ({
      streamId: write.streamId,
      aggregateType: write.aggregateType,
      fromVersion: write.expectedVersion + 1,
      toVersion: write.expectedVersion + write.events.length,
      events: write.events.map(
        (event, index): RecordedEvent => ({
          eventId: event.eventId,
          type: event.type,
          schemaVersion: event.schemaVersion,
          payload: event.payload,
          metadata: event.metadata ?? {},
          tags: event.tags,
          occurredAt: new Date(event.occurredAt.getTime()),
          streamId: write.streamId,
          aggregateType: write.aggregateType,
          version: write.expectedVersion + index + 1,
          position: inserted.get(event.eventId)?.position ?? 0,
          cursor: inserted.get(event.eventId)?.cursor,
        }),
      ),
    }));
    let last: { position: number; cursor: FeedCursor } | undefined;
    for (const row of inserted.values()) {
      if (!last || row.position > last.position) last = row;
    }
    return { streams, ...(last ? { cursor: last.cursor } : {}) };
  }

  /** {@inheritDoc JournalStreams.readStream} */
  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { fromVersion = 1, toVersion, limit } = options;
    checkIntegerArgument('fromVersion', fromVersion, 0);
    if (toVersion !== undefined) checkIntegerArgument('toVersion', toVersion, 0);
    if (limit !== undefined) checkIntegerArgument('limit', limit, 0);
    // No stream reaches a version past the column's range (see maxStoredVersion): reading from
    // there is past the end, and a bound past it is no bound. Neither is bound as a parameter.
    if (limit === 0 || fromVersion > this.sql.maxStoredVersion) return [];
    const params = new SqlParameters(this.sql);
    let sql =
      `SELECT ${this.dialect.eventColumns} FROM ${this.tables.events} e WHERE e.stream_id = ${params.add(streamId)} ` +
      `AND e.version >= ${params.add(fromVersion)} ` +
      `AND e.version > COALESCE((SELECT s.deleted_up_to FROM ${this.tables.streams} s WHERE s.id = ${params.add(streamId)}), 0)`;
    if (toVersion !== undefined && toVersion < this.sql.maxStoredVersion) sql += ` AND e.version <= ${params.add(toVersion)}`;
    sql += ' ORDER BY e.version';
    if (limit !== undefined) sql += ` LIMIT ${params.add(limit)}`;
    const rows = await this.read<EventRow>(sql, params.values);
    return rows.map(this.pageDecoder());
  }

  /** {@inheritDoc JournalStreams.streamInfo} */
  async streamInfo(streamId: string): Promise<StreamInfo | undefined> {
    const params = new SqlParameters(this.sql);
    const [row] = await this.read<StreamRow>(
      `SELECT id, aggregate_type, version, deleted_up_to FROM ${this.tables.streams} WHERE id = ${params.add(streamId)}`,
      params.values,
    );
    if (!row) return undefined;
    return {
      streamId: row.id,
      aggregateType: row.aggregate_type,
      version: this.sql.decodeInteger(row.version),
      deletedUpTo: this.sql.decodeInteger(row.deleted_up_to),
    };
  }

  /** {@inheritDoc JournalStreams.streamVersion} */
  async streamVersion(streamId: string): Promise<number> {
    return (await this.streamInfo(streamId))?.version ?? 0;
  }

  /** {@inheritDoc JournalStreams.deleteStream} */
  async deleteStream(streamId: string, upToVersion?: number): Promise<void> {
    if (upToVersion !== undefined) checkIntegerArgument('upToVersion', upToVersion, 0);
    // Past the column's range means "everything": the stream's version is the most it can delete.
    const upTo = upToVersion === undefined || upToVersion >= this.sql.maxStoredVersion ? undefined : upToVersion;
    await runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      // Never beyond the stream's version (the next append continues the numbering) and never
      // backwards (a deletion is not undone by a narrower one).
      const target =
        upTo === undefined ? 'version' : `CASE WHEN ${params.add(upTo)} < version THEN ${params.add(upTo)} ELSE version END`;
      const updatedAt = params.add(this.sql.encodeTimestamp(this.clock.now()));
      await executeSql(
        manager,
        `UPDATE ${this.tables.streams} SET deleted_up_to = ${this.sql.greatest('deleted_up_to', target)}, ` +
          `updated_at = ${updatedAt} WHERE id = ${params.add(streamId)}`,
        params.values,
      );
    });
  }

  /** {@inheritDoc JournalStreams.listStreams} */
  async listStreams(options: ListStreamsOptions = {}): Promise<string[]> {
    const limit = checkIntegerArgument('limit', options.limit ?? DEFAULT_LIST_LIMIT, 0);
    const params = new SqlParameters(this.sql);
    const conditions: string[] = [];
    if (options.aggregateType !== undefined) conditions.push(`aggregate_type = ${params.add(options.aggregateType)}`);
    if (options.after !== undefined) conditions.push(`id > ${params.add(options.after)}`);
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')} ` : '';
    const rows = await this.read<{ id: string }>(
      `SELECT id FROM ${this.tables.streams} ${where}ORDER BY id LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map((row) => row.id);
  }

  /** {@inheritDoc JournalFeed.readAll} */
  async readAll(after: FeedCursor | null, limit: number, options: ReadAllOptions<EntityManager> = {}): Promise<FeedPage> {
    checkIntegerArgument('limit', limit, 0);
    if (limit === 0) return { events: [], next: after };
    let boundFinished = false;
    const page = async (bound: string | undefined): Promise<Array<EventRow & { feed_bound?: string }>> => {
      const { sql, params } = this.dialect.feedQuery(this.tables, after, limit, bound);
      const rows = options.tx
        ? (await executeSql<FeedQueryRow>(options.tx, sql, params)).rows
        : this.sql.name === 'sqlite'
          ? await this.readSqliteFeed(sql, params)
          : await this.readPostgresFeed(sql, params);
      boundFinished = rows[0]?.feed_bound_finished === true;
      return this.dialect.feedRows(rows, after);
    };
    const cached = this.feedBound;
    let rows = await page(cached);
    // A short page below a remembered bound may stop short of events committed since: read it
    // again with a fresh bound, so a reader that believes it caught up really did. The same when
    // the bound was held by a transaction that finished while it was worked out (another
    // schema's, say): a unit that committed before this read began is then returned by it, not
    // only by the next one. Twice at most: each read is sound on its own, only later.
    if (cached !== undefined && rows.length < limit) rows = await page(undefined);
    for (let again = 0; again < 2 && boundFinished && rows.length < limit && !options.tx; again++) rows = await page(undefined);
    this.feedBound = rows.length === limit ? (rows[0]?.feed_bound ?? cached) : undefined;
    const lastRow = rows[rows.length - 1];
    return {
      events: rows.map(this.pageDecoder()),
      next: lastRow ? this.dialect.cursorAt(lastRow) : after,
    };
  }

  /**
   * PostgreSQL: throws `TransactionIdsAheadError` when the journal's newest event or a stored feed
   * cursor (subscription checkpoint, outbox backfill) carries a transaction id this cluster has not
   * assigned: the journal was restored from another cluster, and needs
   * {@link rebaseTransactionIds}. `runChronicleMigrations` checks this at start-up, and every feed
   * read checks its journal and cursor. Resolves at once on SQLite, whose positions are its own.
   */
  async checkTransactionIds(): Promise<void> {
    if (this.sql.name !== 'postgres') return;
    await runRead(this.dataSource, (manager) => checkTransactionIds(manager, this.tables));
  }

  /**
   * PostgreSQL: repairs a journal restored into another cluster (pg_dump and restore for a move
   * or a major upgrade, logical replication; `pg_upgrade` keeps transaction ids and needs none).
   * Stop every instance of the application first: in one transaction, with appends and checkpoint
   * moves locked out, it rewrites the restored events' transaction ids to ids below any the cluster
   * assigns from now on (3, 4, …: one per distinct stored cursor), keeping their feed order as every
   * stored cursor saw it, and rewrites the stored cursors (subscription checkpoints, outbox
   * backfills) with them. Events appended on this cluster since the restore keep their ids and come
   * after the restored ones; a subscription restored with the journal receives them next. Cursors
   * held elsewhere (outside these tables) are not rewritten: the feed refuses them by name while
   * they are ahead of the cluster. Run once; a second run finds nothing to do. It rewrites every
   * restored event in one statement, which takes about as long as updating that many rows.
   *
   * Refuses, writing nothing (`TransactionIdRebaseRefusedError`, naming them), for stored cursors
   * whose subscriptions already read events appended after the restore before the restored ones:
   * reset those (delete their checkpoints, rebuild what they feed) and run it again.
   * Returns what it rewrote; on SQLite, nothing.
   */
  async rebaseTransactionIds(): Promise<TransactionIdRebase> {
    if (this.sql.name !== 'postgres') return { events: 0, cursors: [] };
    const rebase = await runInTransaction(this.dataSource, (manager) => rebaseTransactionIds(manager, this.tables));
    this.feedBound = undefined;
    return rebase;
  }

  /** {@inheritDoc JournalFeed.headPosition} */
  async headPosition(): Promise<number> {
    const [row] = await this.read<{ head: unknown }>(`SELECT max(position) AS head FROM ${this.tables.events}`, []);
    return row?.head === null || row?.head === undefined ? 0 : this.sql.decodeInteger(row.head);
  }

  /** {@inheritDoc JournalFeed.compareCursors} */
  compareCursors(a: FeedCursor, b: FeedCursor): number {
    return this.dialect.compareCursors(a, b);
  }

  /**
   * {@inheritDoc JournalStreams.readByQuery}
   * PostgreSQL: the feed's statement with the query as a filter (type index, GIN index on tags),
   * read below the feed's bound; a complete read ends just below the bound (`<bound - 1>:<largest
   * position>`), before every event of a transaction that may still commit. SQLite: the events up to the head read first (positions commit in order).
   */
  async readByQuery(query: EventQuery, options: ReadByQueryOptions = {}): Promise<QueryPage> {
    checkEventQuery('query', query);
    const after = options.after ?? null;
    const { limit } = options;
    if (limit !== undefined) checkIntegerArgument('limit', limit, 0);
    // A malformed cursor fails here; on PostgreSQL the read's own statement checks that the journal
    // handed it out (`feed_known_after`), elsewhere a statement of its own does.
    const known = after === null ? undefined : this.knownStatement(after, 'after');
    const filter = (params: SqlParameters): string => this.dialect.queryCondition(this.tables, params, query);
    const most = limit ?? Number.MAX_SAFE_INTEGER;
    if (this.sql.name === 'postgres') {
      const { sql, params } = this.dialect.feedQuery(this.tables, after, Math.max(most, 1), undefined, filter);
      // Not a prepared statement: PostgreSQL's generic plan for it (a tag and a limit it cannot see)
      // made a decision's read about 3× slower on the bench than planning it each time.
      let rows = await this.read<FeedQueryRow>(sql, params);
      // A transaction of the read's snapshot that ended before the bound was worked out holds the
      // bound back though it can no longer write (its events, if any, were invisible to the
      // snapshot). Reading again with a fresh snapshot lets a decision see the units committed
      // before it started: a stale read is never unsound (the condition catches what it missed),
      // but it makes a decision conflict for nothing.
      if (after !== null && !isTrue(rows[0]?.feed_known_after)) throw unknownCursor('after', after);
      for (let retry = 0; retry < 2 && rows[0]?.feed_bound_finished === true; retry++) rows = await this.read<FeedQueryRow>(sql, params);
      const bound = rows[0]?.feed_bound;
      const events = this.dialect.feedRows(rows, after).slice(0, most).map(this.pageDecoder());
      // The statement always returns its bound (one row even for an empty page).
      const end = cursorBelowBound(bound ?? '1');
      const last = events.at(-1);
      if (limit !== undefined && events.length >= limit) return { events, next: last?.cursor ?? after ?? end };
      return { events, next: after !== null && this.dialect.compareCursors(after, end) > 0 ? after : end };
    }
    if (known !== undefined) {
      const [row] = await this.read<{ known: unknown }>(known.sql, known.params);
      if (!isTrue(row?.known)) throw unknownCursor('after', after!);
    }
    const [head] = await this.read<{ head: unknown }>(`SELECT COALESCE(max(position), 0) AS head FROM ${this.tables.events}`, []);
    const headPosition = this.sql.decodeInteger(head?.head ?? 0);
    const upToHead = (params: SqlParameters): string => `e.position <= ${params.add(headPosition)} AND (${filter(params)})`;
    const { sql, params } = this.dialect.feedQuery(this.tables, after, most, undefined, upToHead);
    const events = (await this.read<EventRow>(sql, params)).map(this.pageDecoder());
    const last = events.at(-1);
    if (limit !== undefined && events.length >= limit) return { events, next: last?.cursor ?? after ?? '0' };
    return { events, next: String(Math.max(headPosition, after === null ? 0 : Number(after))) };
  }

  /** {@inheritDoc JournalFeed.readByTag} */
  async readByTag(tag: string, options: { afterPosition?: number; limit?: number } = {}): Promise<RecordedEvent[]> {
    const { afterPosition = 0, limit } = options;
    // Positions are int8 on PostgreSQL: every safe integer binds.
    checkIntegerArgument('afterPosition', afterPosition, 0);
    if (limit !== undefined) checkIntegerArgument('limit', limit, 0);
    if (limit === 0) return [];
    const params = new SqlParameters(this.sql);
    let sql =
      `SELECT ${this.dialect.eventColumns} FROM ${this.tables.events} e WHERE e.position > ${params.add(afterPosition)} ` +
      `AND ${this.dialect.queryCondition(this.tables, params, [{ tags: [tag] }])} ORDER BY e.position`;
    if (limit !== undefined) sql += ` LIMIT ${params.add(limit)}`;
    const rows = await this.read<EventRow>(sql, params.values);
    return rows.map(this.pageDecoder());
  }

  /** {@inheritDoc JournalFeed.readLatest} Served by the position primary key, read backwards. */
  async readLatest(options: ReadLatestOptions): Promise<RecordedEvent[]> {
    const limit = checkIntegerArgument('limit', options?.limit, 0);
    // Positions are int8 on PostgreSQL: every safe integer binds.
    if (options.beforePosition !== undefined) checkIntegerArgument('beforePosition', options.beforePosition, 0);
    if (limit === 0) return [];
    const params = new SqlParameters(this.sql);
    const where = options.beforePosition === undefined ? '' : `WHERE e.position < ${params.add(options.beforePosition)} `;
    const sql = `SELECT ${this.dialect.eventColumns} FROM ${this.tables.events} e ${where}ORDER BY e.position DESC LIMIT ${params.add(limit)}`;
    const rows = await this.read<EventRow>(sql, params.values);
    return rows.map(this.pageDecoder());
  }

  /** {@inheritDoc JournalFeed.feedBlocker} */
  feedBlocker(): Promise<FeedBlocker | undefined> {
    return runRead(this.dataSource, (manager) => this.dialect.feedBlocker(manager, this.tables));
  }

  /** {@inheritDoc JournalStreams.findCommand} */
  async findCommand(commandId: string): Promise<CommandRecord | undefined> {
    const params = new SqlParameters(this.sql);
    const [row] = await this.read<CommandRow>(
      `SELECT command_id, fingerprint, stream_id, aggregate_type, outcome, recorded_at FROM ${this.tables.commands} ` +
        `WHERE command_id = ${params.add(commandId)}`,
      params.values,
    );
    if (!row) return undefined;
    return {
      commandId: row.command_id,
      fingerprint: row.fingerprint,
      streamId: row.stream_id,
      aggregateType: row.aggregate_type,
      outcome: this.sql.decodeJson(row.outcome) as CommandOutcome,
      recordedAt: this.sql.decodeTimestamp(row.recorded_at),
    };
  }

  /** {@inheritDoc JournalStreams.pruneCommands} */
  async pruneCommands(before: Date): Promise<number> {
    return runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      const { affected } = await executeSql(
        manager,
        `DELETE FROM ${this.tables.commands} WHERE recorded_at < ${params.add(this.sql.encodeTimestamp(before))}`,
        params.values,
      );
      return affected ?? 0;
    });
  }

  /**
   * Rejects malformed requests before any statement runs, naming what is wrong. Returns the index
   * of the first write that would take its stream past the last version the dialect stores (-1
   * when none does): checked here, once per write, so the append statements never bind a version
   * out of the column's range.
   */
  private validate(request: AppendRequest): number {
    if (!Array.isArray(request.writes)) throw invalidRequest('writes must be an array');
    checkAppendOrigin(request.origin);
    let pastLastVersion = -1;
    request.writes.forEach((write, index) => {
      const where = `writes[${index}]`;
      if (typeof write.streamId !== 'string' || write.streamId.length === 0) throw invalidRequest(`${where}.streamId is empty`);
      if (typeof write.aggregateType !== 'string' || write.aggregateType.length === 0) {
        throw invalidRequest(`${where}.aggregateType is empty (stream "${write.streamId}")`);
      }
      checkIntegerArgument(`${where}.expectedVersion`, write.expectedVersion, 0);
      if (!Array.isArray(write.events) || write.events.length === 0) {
        throw invalidRequest(`${where} (stream "${write.streamId}") has no events; a write needs at least one`);
      }
      if (pastLastVersion < 0 && write.expectedVersion + write.events.length > this.sql.maxStoredVersion) pastLastVersion = index;
      write.events.forEach((event, eventIndex) => {
        const at = `${where}.events[${eventIndex}]`;
        if (typeof event.eventId !== 'string' || event.eventId.length === 0) throw invalidRequest(`${at}.eventId is empty`);
        if (typeof event.type !== 'string' || event.type.length === 0) throw invalidRequest(`${at}.type is empty`);
        if (!Number.isInteger(event.schemaVersion) || event.schemaVersion < 1) {
          throw invalidRequest(`${at}.schemaVersion ${String(event.schemaVersion)} is not a positive integer`);
        }
        // The column's range (int4 on PostgreSQL), and exact in JavaScript: checked here, not by the driver.
        checkIntegerArgument(`${at}.schemaVersion`, event.schemaVersion, 1, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
        if (!(event.occurredAt instanceof Date) || Number.isNaN(event.occurredAt.getTime())) {
          throw invalidRequest(`${at}.occurredAt is not a valid Date`);
        }
        if (event.payload === undefined) throw invalidRequest(`${at}.payload is undefined`);
        if (!Array.isArray(event.tags) || event.tags.some((tag) => typeof tag !== 'string')) {
          throw invalidRequest(`${at}.tags is not an array of strings`);
        }
      });
    });
    if (request.condition !== undefined) checkAppendCondition(request.condition, request.writes.flatMap((write) => write.events));
    (request.commands ?? []).forEach((command, index) => {
      if (typeof command.commandId !== 'string' || command.commandId.length === 0) {
        throw invalidRequest(`commands[${index}].commandId is empty`);
      }
    });
    return pastLastVersion;
  }

  /**
   * Refuses a write whose new version would not fit the version column, writing nothing. A stream
   * that is not at the expected version (every stream, when the expected version is itself past
   * the column's range) is a plain conflict; one that is there has no room left.
   */
  private async refusePastLastVersion(write: StreamWrite, index: number): Promise<never> {
    const actual = await this.streamVersion(write.streamId);
    if (actual !== write.expectedVersion) throw new ConcurrencyError(write.streamId, write.expectedVersion, actual);
    const room = this.sql.maxStoredVersion - actual;
    throw new InvalidArgumentError(
      `writes[${index}].events.length`,
      write.events.length,
      `at most ${room} for stream "${write.streamId}" at version ${actual} (${this.sql.maxStoredVersion} is ${this.sql.maxStoredVersionReason})`,
    );
  }

  /**
   * Moves every stream of the unit to its new version, or throws `ConcurrencyError` for the first
   * that is not at its expected version. On PostgreSQL a unit of several streams (a group commit)
   * takes two statements whatever its size: lock the existing rows in one stable order (so two
   * batches never deadlock), then update and create them all at once.
   */
  private async advanceStreams(manager: EntityManager, ordered: StreamWrite[], now: Date): Promise<void> {
    const distinct = new Set(ordered.map((write) => write.streamId)).size === ordered.length;
    if (ordered.length < 2 || !distinct) {
      for (const write of ordered) await this.advanceStream(manager, write, now);
      return;
    }
    if (this.sql.name !== 'postgres') return this.advanceSqliteStreams(manager, ordered, now);
    const ids = ordered.map((write) => write.streamId);
    await executeSql(manager, `SELECT id FROM ${this.tables.streams} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
    const { rows } = await executeSql<{ id: string }>(
      manager,
      `WITH input(id, aggregate_type, expected, next) AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])), ` +
        `updated AS (UPDATE ${this.tables.streams} s SET version = i.next, updated_at = $5 FROM input i ` +
        `WHERE s.id = i.id AND i.expected > 0 AND s.version = i.expected RETURNING s.id), ` +
        `created AS (INSERT INTO ${this.tables.streams} (id, aggregate_type, version, deleted_up_to, created_at, updated_at) ` +
        `SELECT i.id, i.aggregate_type, i.next, 0, $5, $5 FROM input i WHERE i.expected = 0 ORDER BY i.id ` +
        `ON CONFLICT (id) DO NOTHING RETURNING id) ` +
        `SELECT id FROM updated UNION ALL SELECT id FROM created`,
      [
        ids,
        ordered.map((write) => write.aggregateType),
        ordered.map((write) => write.expectedVersion),
        ordered.map((write) => write.expectedVersion + write.events.length),
        this.sql.encodeTimestamp(now),
      ],
    );
    if (rows.length === ordered.length) return;
    const advanced = new Set(rows.map((row) => row.id));
    const lost = ordered.find((write) => !advanced.has(write.streamId))!;
    const { rows: actual } = await executeSql<{ version: unknown }>(manager, `SELECT version FROM ${this.tables.streams} WHERE id = $1`, [lost.streamId]);
    throw new ConcurrencyError(lost.streamId, lost.expectedVersion, actual[0] ? this.sql.decodeInteger(actual[0].version) : 0);
  }

  /**
   * SQLite, a unit of several distinct streams (a group commit): one UPDATE … FROM json_each for
   * the existing streams and, when the unit creates any, one INSERT for the new ones, instead of a
   * statement per stream (each statement costs more in the driver's and TypeORM's JavaScript than
   * in SQLite). The unit holds the write lock, so nothing moves between the statements; a stream
   * not advanced is named with its actual version, as one stream's unit would.
   */
  private async advanceSqliteStreams(manager: EntityManager, ordered: StreamWrite[], now: Date): Promise<void> {
    const timestamp = this.sql.encodeTimestamp(now);
    const existing = ordered.filter((write) => write.expectedVersion > 0);
    const created = ordered.filter((write) => write.expectedVersion === 0);
    const advanced = new Set<string>();
    if (existing.length > 0) {
      const input = JSON.stringify(existing.map((write) => [write.streamId, write.expectedVersion, write.expectedVersion + write.events.length]));
      const { rows } = await executeSql<{ id: string }>(
        manager,
        `UPDATE ${this.tables.streams} AS s SET version = i.value ->> 2, updated_at = ? FROM json_each(?) AS i ` +
          // RETURNING names the updated table's columns only (json_each's `id` is out of its scope).
          'WHERE s.id = i.value ->> 0 AND s.version = i.value ->> 1 RETURNING id',
        [timestamp, input],
      );
      for (const row of rows) advanced.add(row.id);
    }
    if (created.length > 0) {
      const input = JSON.stringify(created.map((write) => [write.streamId, write.aggregateType, write.events.length]));
      // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
      const { rows } = await executeSql<{ id: string }>(
        manager,
        `INSERT INTO ${this.tables.streams} (id, aggregate_type, version, deleted_up_to, created_at, updated_at) ` +
          'SELECT i.value ->> 0, i.value ->> 1, i.value ->> 2, 0, ?, ? FROM json_each(?) AS i WHERE true ON CONFLICT (id) DO NOTHING RETURNING id',
        [timestamp, timestamp, input],
      );
      for (const row of rows) advanced.add(row.id);
    }
    if (advanced.size === ordered.length) return;
    // A lost race: name the first stream (in the unit's order) that was not at its expected version.
    const lost = ordered.find((write) => !advanced.has(write.streamId))!;
    const { rows: actual } = await executeSql<{ version: unknown }>(manager, `SELECT version FROM ${this.tables.streams} WHERE id = ?`, [lost.streamId]);
    throw new ConcurrencyError(lost.streamId, lost.expectedVersion, actual[0] ? this.sql.decodeInteger(actual[0].version) : 0);
  }

  /**
   * Moves a stream from its expected version to its new one, or throws `ConcurrencyError`.
   * Both statements report a conflict as zero rows instead of an error, so the transaction is
   * still usable to read the actual version.
   */
  private async advanceStream(manager: EntityManager, write: StreamWrite, now: Date): Promise<void> {
    const newVersion = write.expectedVersion + write.events.length;
    const params = new SqlParameters(this.sql);
    const timestamp = this.sql.encodeTimestamp(now);
    const sql =
      write.expectedVersion === 0
        ? `INSERT INTO ${this.tables.streams} (id, aggregate_type, version, deleted_up_to, created_at, updated_at) ` +
          `VALUES (${params.add(write.streamId)}, ${params.add(write.aggregateType)}, ${params.add(newVersion)}, 0, ` +
          `${params.add(timestamp)}, ${params.add(timestamp)}) ON CONFLICT (id) DO NOTHING RETURNING id`
        : `UPDATE ${this.tables.streams} SET version = ${params.add(newVersion)}, updated_at = ${params.add(timestamp)} ` +
          `WHERE id = ${params.add(write.streamId)} AND version = ${params.add(write.expectedVersion)} RETURNING id`;
    const { rows } = await executeSql(manager, sql, params.values);
    if (rows.length > 0) return;
    const check = new SqlParameters(this.sql);
    const { rows: actual } = await executeSql<{ version: unknown }>(
      manager,
      `SELECT version FROM ${this.tables.streams} WHERE id = ${check.add(write.streamId)}`,
      check.values,
    );
    const actualVersion = actual[0] ? this.sql.decodeInteger(actual[0].version) : 0;
    throw new ConcurrencyError(write.streamId, write.expectedVersion, actualVersion);
  }

  /** Inserts the events in multi-row statements; returns position and cursor per event id. */
  private async insertEvents(
    manager: EntityManager,
    pending: PendingEvent[],
    origin: string | undefined,
  ): Promise<Map<string, { position: number; cursor: FeedCursor }>> {
    const inserted = new Map<string, { position: number; cursor: FeedCursor }>();
    for (let start = 0; start < pending.length; start += EVENT_INSERT_CHUNK) {
      const chunk = pending.slice(start, start + EVENT_INSERT_CHUNK);
      const params = new SqlParameters(this.sql);
      const values = chunk.map(({ write, event, version, payload, metadata, tags }) => {
        const row = [
          write.streamId,
          version,
          write.aggregateType,
          event.eventId,
          event.type,
          event.schemaVersion,
          payload,
          metadata,
          tags,
          this.sql.encodeTimestamp(event.occurredAt),
        ];
        return `(${row.map((value) => params.add(value)).join(', ')})`;
      });
      let rows: Array<{ position: unknown; event_id: string; tx_id?: unknown }>;
      try {
        ({ rows } = await executeSql(
          manager,
          `INSERT INTO ${this.tables.events} (stream_id, version, aggregate_type, event_id, type, schema_version, ` +
            `payload, metadata, tags, occurred_at) VALUES ${values.join(', ')} RETURNING ${this.dialect.insertReturning}` +
            (this.notifyChannel === undefined ? '' : `, pg_notify(${params.add(this.notifyChannel)}, ${params.add(origin ?? '')}) IS NULL AS notified`),
          params.values,
        ));
      } catch (error) {
        // Only possible when events were written without moving the stream row (by hand, or by
        // another tool): still a lost race for that version, never a generic failure.
        if (this.sql.isUniqueViolation(error, this.streamVersionKey)) throw this.versionTaken(chunk, error);
        throw error;
      }
      for (const row of rows) {
        inserted.set(row.event_id, { position: this.sql.decodeInteger(row.position), cursor: this.dialect.cursorAt(row) });
      }
    }
    return inserted;
  }

  private versionTaken(chunk: PendingEvent[], cause: unknown): ConcurrencyError {
    // The driver does not say which row collided; name the first stream of the statement.
    const first = chunk[0];
    const streamId = first?.write.streamId ?? '';
    return new ConcurrencyError(streamId, first?.write.expectedVersion ?? 0, undefined, { cause });
  }

  /** Records the command outcomes; an id that has one already fails the unit. */
  private async recordCommands(manager: EntityManager, commands: CommandRecord[]): Promise<void> {
    if (commands.length === 0) return;
    const params = new SqlParameters(this.sql);
    // Inserted in id order: two units recording the same ids wait on each other's keys in one
    // order, never in opposite orders (a deadlock).
    const sorted = [...commands].sort((a, b) => (a.commandId < b.commandId ? -1 : a.commandId > b.commandId ? 1 : 0));
    const values = sorted.map(
      (command) =>
        `(${[
          command.commandId,
          command.fingerprint,
          command.streamId,
          command.aggregateType,
          this.sql.encodeJson(command.outcome),
          this.sql.encodeTimestamp(command.recordedAt),
        ]
          .map((value) => params.add(value))
          .join(', ')})`,
    );
    const { rows } = await executeSql<{ command_id: string }>(
      manager,
      `INSERT INTO ${this.tables.commands} (command_id, fingerprint, stream_id, aggregate_type, outcome, recorded_at) ` +
        `VALUES ${values.join(', ')} ON CONFLICT (command_id) DO NOTHING RETURNING command_id`,
      params.values,
    );
    const written = new Map<string, number>();
    for (const row of rows) written.set(row.command_id, (written.get(row.command_id) ?? 0) + 1);
    for (const command of commands) {
      const left = written.get(command.commandId) ?? 0;
      if (left === 0) throw new DuplicateCommandError(command.commandId);
      written.set(command.commandId, left - 1);
    }
  }

  private decodeRow(row: EventRow, memo?: EventPageMemo): RecordedEvent {
    return recordedEventFromRow(row, this.sql, this.dialect.cursorAt(row), memo);
  }

  /** Decodes the rows of one read, in order, sharing what a row has in common with the one before (see `EventPageMemo`). */
  private pageDecoder(): (row: EventRow) => RecordedEvent {
    const memo: EventPageMemo = {};
    return (row) => this.decodeRow(row, memo);
  }

  /**
   * SQLite: a feed page through a statement prepared once on better-sqlite3's connection, rows
   * as arrays, under the same write lock as every other read ({@link runRead}). The feed reads
   * rows by the thousand: TypeORM's query path (a QueryRunner, a statement lookup, a result
   * object) and better-sqlite3's row objects cost more than the rows' decoding; measured, this
   * read takes about two thirds of the time of the same statement through TypeORM.
   */
  private readSqliteFeed(sql: string, params: unknown[]): Promise<FeedQueryRow[]> {
    const connection = (this.dataSource.driver as { databaseConnection?: SqliteConnection }).databaseConnection;
    if (!connection) return this.read<FeedQueryRow>(sql, params);
    return sqliteWriteLock(this.dataSource).runExclusive(async () => {
      let prepared = this.sqliteFeedStatements.get(sql);
      if (prepared?.connection !== connection) {
        prepared = { connection, statement: connection.prepare(sql).raw(true) };
        this.sqliteFeedStatements.set(sql, prepared);
      }
      return prepared.statement.all(...params).map(eventRowOfValues);
    });
  }

  /**
   * PostgreSQL: a page of `readAll` (the statement that works the bound out, or one below a given
   * bound; never a filtered read's, whose `feed_known_after` column is not decoded here), with rows
   * as arrays, and as a named prepared statement unless `preparedStatements` is off: parsed and
   * planned once per pooled connection and plan generation, and `pg` builds no object per row (the
   * page's rows by the thousand cost more to build than to decode). Planning the statement that
   * works the bound out took longer than running it (0.9 ms against 0.2 ms, measured in the demo),
   * and every subscription reads it after every local commit. The query goes to the driver, not
   * through TypeORM's query runner: the DataSource's logger sees it, but `maxQueryExecutionTime`
   * does not time it.
   */
  private async readPostgresFeed(sql: string, params: unknown[]): Promise<FeedQueryRow[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as ArrayRowsClient;
      const values = [...params];
      this.dataSource.logger.logQuery(sql, values, runner);
      let rows: unknown[][];
      try {
        const name = this.preparedStatements ? { name: preparedStatementName('chronicle_feed_', sql, planGeneration(this.largestPosition)) } : {};
        ({ rows } = await client.query({ ...name, text: sql, values, rowMode: 'array' }));
      } catch (error) {
        this.dataSource.logger.logQueryError(error as Error, sql, values, runner);
        throw new QueryFailedError(sql, values, error as Error);
      }
      const last = rows.at(-1)?.[0];
      if (typeof last === 'string') this.largestPosition = Math.max(this.largestPosition, Number(last));
      return rows.map(postgresFeedRowOfValues);
    } finally {
      await runner.release();
    }
  }

  private read<Row>(sql: string, params: unknown[]): Promise<Row[]> {
    return runRead(this.dataSource, async (manager) => (await executeSql<Row>(manager, sql, params)).rows);
  }
}
