import type { DataSource, EntityManager } from 'typeorm';
import {
  ConfigurationError,
  outboxAggregateId,
  outboxSubscriptionReceives,
  systemClock,
} from '@chronicle/core';
import type {
  AppendRequest,
  AppendResult,
  ClaimOptions,
  Clock,
  OutboxEntry,
  OutboxHandlerState,
  OutboxStats,
  OutboxStore,
  OutboxSubscription,
  RecordedEvent,
} from '@chronicle/core';
import { timeOrderedId } from '@chronicle/core/internal';
import { dialectOf } from '../dialects/dialect-of.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { resolveChronicleTables } from '../table-options.js';
import { outboxRequestChecks } from '@chronicle/core';
import { executeSql } from '../transactions/execute-sql.js';
import { runInTransaction } from '../transactions/run-in-transaction.js';
import { runAutocommit, type AutocommitOptions } from '../transactions/run-autocommit.js';
import { planGeneration } from '../transactions/plan-generation.js';
import { runRead } from '../transactions/run-read.js';
import type { OutboxDialect } from './outbox-dialect.js';
import { MAX_NOTIFY_CHANNEL_BYTES, outboxNotifyChannel } from './outbox-notify-channel.js';
import type { OutboxRow } from './outbox-row.js';
import { OUTBOX_COLUMNS, outboxEntryFromRow } from './outbox-row.js';
import { postgresOutboxDialect } from './postgres-outbox.dialect.js';
import type { AppendStatementPart, AppendStatementParticipant } from '../journal/append-statement-participant.js';
import { sqliteOutboxDialect } from './sqlite-outbox.dialect.js';

const { checkBackfillEvents, checkDate, checkError, checkIds, checkOwner, checkPositiveInteger, checkSubscription, invalidRequest, unknownHandler } = outboxRequestChecks;

/** Options of {@link TypeOrmOutboxStore}. */
export interface TypeOrmOutboxStoreOptions extends ChronicleTableOptions {
  /** Time source of leases, backoff and bookkeeping timestamps. @default systemClock */
  clock?: Clock;
  /**
   * PostgreSQL channel notified (the unit's origin as payload, '' without one; at most once per
   * transaction) when a unit of work wrote entries. @default outboxNotifyChannel(options):
   * `chronicle_outbox`, or named after the schema and prefix when they are configured
   */
  notifyChannel?: string;
  /**
   * PostgreSQL: run the relay's claim and its fenced updates as named prepared statements, parsed
   * and planned once per pooled connection and plan generation (planning the claim took longer
   * than running it: 1.2 ms against 0.4 ms, measured in the demo, once per relay run). Turn off
   * behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode before
   * 1.21, or without `max_prepared_statements`).
   * @default true
   */
  preparedStatements?: boolean;
}

// Fourteen parameters per entry: 500 rows stay far below both drivers' parameter limits.
const ENTRY_INSERT_CHUNK = 500;
const DEFAULT_DEAD_LETTER_LIMIT = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The columns of an entry insert, in order. */
const INSERT_COLUMNS =
  'id, handler, aggregate_type, aggregate_id, stream_id, version, event_id, event_type, schema_version, payload, ' +
  'metadata, occurred_at, next_attempt_at, created_at';

interface HandlerRow {
  handler: string;
  start_from: 'now' | 'beginning';
  backfill_cursor: string | null;
  ready_at: unknown;
  registered_at: unknown;
}

interface StatsRow {
  handler: string;
  pending: unknown;
  oldest_pending_at: unknown;
  leased: unknown;
  dead_lettered: unknown;
}

/**
 * The outbox over TypeORM, on PostgreSQL and SQLite (better-sqlite3): `<prefix>outbox` (one row
 * per event per handler) and `<prefix>outbox_handlers`. Add it to the journal with
 * `journal.addParticipant(store)`: `participate` inserts the entries with the append
 * transaction's EntityManager, so they commit or roll back with the events, and on PostgreSQL
 * sends one `pg_notify` per transaction that wrote entries (listen with
 * `PostgresNotificationListener` on {@link notifyChannel}; keep polling as the fallback).
 *
 * Claims give each aggregate to one owner at a time and hand out only an aggregate's head and the
 * unbroken run after it (see the dialects for the SQL and why it is correct under concurrent
 * claimers). Every change to a claimed entry is fenced: it applies only while the caller's lease
 * has not expired. A claim never returns an entry under an unexpired lease, whoever holds it.
 * All times come from the injected clock, passed to the database as parameters.
 */
export class TypeOrmOutboxStore implements OutboxStore<EntityManager>, AppendStatementParticipant {
  /** The PostgreSQL channel notified when a transaction wrote entries (unused on SQLite). */
  readonly notifyChannel: string;
  private readonly dialect: OutboxDialect;
  private readonly sql: SqlDialect;
  private readonly tables: ChronicleTables;
  private readonly clock: Clock;
  private readonly subscriptions = new Map<string, OutboxSubscription>();
  /** Per handler: the aggregate the previous claim ended with, where the next one starts. */
  private readonly cursors = new Map<string, string>();
  private readonly preparedStatements: boolean;
  /**
   * Entries this store has written or claimed: how much the outbox has grown, as far as this
   * process saw it (the relay's plan generation follows it). It overcounts (an entry written and
   * then claimed here counts twice; pruning shrinks the table): plans are then made again sooner
   * than needed. It undercounts the entries other processes write while this one claims few (a
   * relay-only instance whose handlers' heads are all in backoff): until its next claims, or an
   * ANALYZE, the relay keeps the plan it has.
   */
  private entriesSeen = 0;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmOutboxStoreOptions = {},
  ) {
    this.sql = dialectOf(dataSource);
    this.dialect = this.sql.name === 'postgres' ? postgresOutboxDialect : sqliteOutboxDialect;
    this.tables = resolveChronicleTables(options, this.sql);
    this.clock = options.clock ?? systemClock;
    this.preparedStatements = options.preparedStatements ?? true;
    this.notifyChannel =
      options.notifyChannel === undefined ? outboxNotifyChannel(options) : checkNotifyChannel(options.notifyChannel);
  }

  /**
   * {@inheritDoc OutboxRelayStore.subscribe}
   * A handler subscribed again (in this process or any other) keeps its first registration and
   * takes the new event list in this store. Throws `ConfigurationError` for a malformed
   * subscription, changing nothing.
   */
  async subscribe(subscriptions: readonly OutboxSubscription[]): Promise<void> {
    const checked = subscriptions.map(checkSubscription);
    const names = checked.map((subscription) => subscription.handler);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined) {
      throw new ConfigurationError(`Outbox handler "${repeated}" is subscribed twice in one call; names must be unique.`);
    }
    if (checked.length > 0) {
      const now = this.sql.encodeTimestamp(this.clock.now());
      // Registered in name order: two processes registering the same handlers wait in one order.
      const sorted = [...checked].sort((a, b) => compareBytes(a.handler, b.handler));
      await runInTransaction(this.dataSource, async (manager) => {
        const params = new SqlParameters(this.sql);
        const values = sorted.map(
          ({ handler, startFrom }) =>
            `(${params.add(handler)}, ${params.add(startFrom)}, NULL, ${startFrom === 'now' ? params.add(now) : 'NULL'}, ${params.add(now)})`,
        );
        await executeSql(
          manager,
          `INSERT INTO ${this.tables.outboxHandlers} (handler, start_from, backfill_cursor, ready_at, registered_at) ` +
            `VALUES ${values.join(', ')} ON CONFLICT (handler) DO NOTHING`,
          params.values,
        );
      });
    }
    for (const subscription of checked) this.subscriptions.set(subscription.handler, subscription);
  }

  /** {@inheritDoc UnitOfWorkParticipant.participate} */
  async participate(manager: EntityManager, request: AppendRequest, result: AppendResult): Promise<void> {
    if (this.subscriptions.size === 0) return;
    if (this.sql.name === 'sqlite') {
      await this.insertEntriesOfUnit(manager, this.routed(result.streams.flatMap((stream) => stream.events)));
      return;
    }
    const written = await this.insertEntries(
      manager,
      this.routed(result.streams.flatMap((stream) => stream.events)),
      undefined,
      this.notifyChannel,
      request.origin,
    );
    if (written.inserted > 0 && !written.notified) await this.dialect.notify(manager, this.notifyChannel, request.origin);
  }

  /**
   * {@inheritDoc AppendStatementParticipant.appendStatementParts}
   *
   * The entries of the unit (what `participate` inserts), as one INSERT that takes the events'
   * stored columns from the journal's CTE of inserted events, so payload and metadata are not
   * sent twice; then, when it inserted anything, the wake-up NOTIFY. PostgreSQL only.
   */
  appendStatementParts(request: AppendRequest, params: SqlParameters, events: string, uniquePrefix: string): AppendStatementPart[] {
    if (this.subscriptions.size === 0 || this.sql.name !== 'postgres') return [];
    const unitEvents = request.writes.flatMap((write) =>
      write.events.map((event) => ({ eventId: event.eventId, type: event.type, aggregateId: outboxAggregateId(write.streamId, write.aggregateType) })),
    );
    const items = this.inInsertOrder(this.routed(unitEvents));
    if (items.length === 0) return [];
    this.entriesSeen += items.length;
    const array = (values: unknown[], type: string): string => `${params.add(values)}::${type}[]`;
    const now = params.add(this.clock.now());
    const entries = `${uniquePrefix}outbox_entries`;
    return [
      {
        name: entries,
        // In insert order, like `insertEntries`. No ON CONFLICT: an entry a
        // backfill wrote meanwhile is a unique violation, which aborts the statement, and the
        // journal writes the unit again as a transaction, through `participate`, which skips it.
        // (Speculative insertion would cost every entry an extra index probe and WAL record.)
        sql:
          `INSERT INTO ${this.tables.outbox} (${INSERT_COLUMNS}) ` +
          'SELECT u.id, u.handler, e.aggregate_type, u.aggregate_id, e.stream_id, e.version, e.event_id, e.type, e.schema_version, ' +
          `e.payload, e.metadata, e.occurred_at, ${now}, ${now} FROM unnest(` +
          `${array(items.map((item) => item.id), 'uuid')}, ${array(items.map((item) => item.handler), 'text')}, ` +
          `${array(items.map((item) => item.event.eventId), 'text')}, ${array(items.map((item) => item.event.aggregateId), 'text')}) WITH ORDINALITY ` +
          `AS u(id, handler, event_id, aggregate_id, ord) JOIN ${events} e ON e.event_id = u.event_id ORDER BY u.ord RETURNING 1`,
      },
      {
        name: `${uniquePrefix}outbox_woke`,
        // The unit's origin, as the journal's own NOTIFY sends it: PostgreSQL folds the two into one.
        sql: `SELECT pg_notify(${params.add(this.notifyChannel)}, ${params.add(request.origin ?? '')}) FROM (SELECT 1 FROM ${entries} LIMIT 1) x`,
      },
    ];
  }

  /** {@inheritDoc OutboxRelayStore.handlerState} */
  async handlerState(handler: string): Promise<OutboxHandlerState | undefined> {
    const params = new SqlParameters(this.sql);
    const [row] = await this.read<HandlerRow>(
      `SELECT handler, start_from, backfill_cursor, ready_at, registered_at FROM ${this.tables.outboxHandlers} ` +
        `WHERE handler = ${params.add(handler)}`,
      params.values,
    );
    if (!row) return undefined;
    return {
      handler: row.handler,
      startFrom: row.start_from,
      backfillCursor: row.backfill_cursor,
      ...(row.ready_at === null || row.ready_at === undefined ? {} : { readyAt: this.sql.decodeTimestamp(row.ready_at) }),
      registeredAt: this.sql.decodeTimestamp(row.registered_at),
    };
  }

  /**
   * {@inheritDoc OutboxRelayStore.backfill}
   * Events of types the handler does not receive are skipped; returns how many entries were
   * enqueued. The handler row is written first: concurrent backfills of one handler take turns.
   * Throws `ConfigurationError` for a handler this store has not subscribed.
   */
  async backfill(handler: string, events: readonly RecordedEvent[], cursor: string | null, done: boolean): Promise<number> {
    const subscription = this.subscriptions.get(handler);
    if (subscription === undefined) throw unknownHandler(handler);
    if (!Array.isArray(events)) throw invalidRequest('backfill events must be an array');
    checkBackfillEvents(events, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
    const matching = events.filter((event) => outboxSubscriptionReceives(subscription, event.type));
    return runInTransaction(this.dataSource, async (manager) => {
      const now = this.clock.now();
      // Placeholders are positional on SQLite: each is added where it appears in the text.
      const params = new SqlParameters(this.sql);
      let sql = `UPDATE ${this.tables.outboxHandlers} SET backfill_cursor = ${params.add(cursor)}`;
      if (done) sql += `, ready_at = COALESCE(ready_at, ${params.add(this.sql.encodeTimestamp(now))})`;
      sql += ` WHERE handler = ${params.add(handler)} RETURNING handler`;
      const { rows } = await executeSql(manager, sql, params.values);
      if (rows.length === 0) throw unknownHandler(handler);
      const written = await this.insertEntries(
        manager,
        matching.map((event) => ({ handler, event })),
        now,
      );
      return written.inserted;
    });
  }

  /** {@inheritDoc OutboxRelayStore.claim} */
  async claim(handler: string, owner: string, options: ClaimOptions): Promise<OutboxEntry[]> {
    checkOwner(owner);
    checkPositiveInteger('limit', options?.limit);
    checkPositiveInteger('leaseMs', options?.leaseMs);
    const now = this.clock.now();
    const cursor = this.cursors.get(handler) ?? '';
    const { sql, params } = this.dialect.claim(this.tables, {
      handler,
      owner,
      now,
      leaseUntil: new Date(now.getTime() + options.leaseMs),
      limit: options.limit,
      cursor,
    });
    const rows = await runAutocommit<OutboxRow>(this.dataSource, sql, params, this.prepared());
    this.entriesSeen += rows.length;
    const entries = rows.map((row) => outboxEntryFromRow(row, this.sql)).sort(byAggregateThenVersion);
    const next = nextCursor(entries, cursor);
    if (next !== undefined) this.cursors.set(handler, next);
    return entries;
  }

  /** {@inheritDoc OutboxRelayStore.extendLease} */
  async extendLease(handler: string, owner: string, ids: readonly string[], leaseMs: number): Promise<number> {
    checkIds(ids);
    checkPositiveInteger('leaseMs', leaseMs);
    const now = this.clock.now();
    const until = this.sql.encodeTimestamp(new Date(now.getTime() + leaseMs));
    return this.fencedUpdate(handler, owner, ids, now, (params) => `lease_until = ${params.add(until)}`);
  }

  /** {@inheritDoc OutboxRelayStore.markPublished} */
  async markPublished(handler: string, owner: string, ids: readonly string[]): Promise<number> {
    checkIds(ids);
    const now = this.clock.now();
    return this.fencedUpdate(handler, owner, ids, now, (params) => `published_at = ${params.add(this.sql.encodeTimestamp(now))}`);
  }

  /**
   * {@inheritDoc OutboxRelayStore.markFailed}
   * Counts the attempt, records the error and gives the lease up: the entry (and so its
   * aggregate) waits until `nextAttemptAt`, then any relay may claim it.
   */
  async markFailed(handler: string, owner: string, id: string, error: string, nextAttemptAt: Date): Promise<boolean> {
    checkDate('nextAttemptAt', nextAttemptAt);
    checkError(error);
    const changed = await this.fencedUpdate(
      handler,
      owner,
      [id],
      this.clock.now(),
      (params) =>
        `attempts = attempts + 1, last_error = ${params.add(error)}, ` +
        `next_attempt_at = ${params.add(this.sql.encodeTimestamp(nextAttemptAt))}, lease_owner = NULL, lease_until = NULL`,
    );
    return changed === 1;
  }

  /**
   * {@inheritDoc OutboxRelayStore.deadLetter}
   * Counts the attempt that failed (as `markFailed` does) and gives the lease up.
   */
  async deadLetter(handler: string, owner: string, id: string, error: string): Promise<boolean> {
    checkError(error);
    const now = this.clock.now();
    const changed = await this.fencedUpdate(
      handler,
      owner,
      [id],
      now,
      (params) =>
        `attempts = attempts + 1, last_error = ${params.add(error)}, ` +
        `dead_lettered_at = ${params.add(this.sql.encodeTimestamp(now))}, lease_owner = NULL, lease_until = NULL`,
    );
    return changed === 1;
  }

  /** {@inheritDoc OutboxRelayStore.release} */
  async release(handler: string, owner: string, ids?: readonly string[]): Promise<number> {
    if (ids !== undefined) checkIds(ids);
    return this.fencedUpdate(handler, owner, ids, this.clock.now(), () => 'lease_owner = NULL, lease_until = NULL');
  }

  /** {@inheritDoc OutboxAdminStore.deadLetters} At most `limit` entries (100 unless given). */
  async deadLetters(handler?: string, limit: number = DEFAULT_DEAD_LETTER_LIMIT): Promise<OutboxEntry[]> {
    checkPositiveInteger('limit', limit);
    const params = new SqlParameters(this.sql);
    const forHandler = handler === undefined ? '' : ` AND handler = ${params.add(handler)}`;
    const rows = await this.read<OutboxRow>(
      `SELECT ${OUTBOX_COLUMNS} FROM ${this.tables.outbox} WHERE dead_lettered_at IS NOT NULL AND published_at IS NULL${forHandler} ` +
        `ORDER BY dead_lettered_at, id LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map((row) => outboxEntryFromRow(row, this.sql));
  }

  /** {@inheritDoc OutboxAdminStore.leased} At most `limit` entries (100 unless given). */
  async leased(handler?: string, limit: number = DEFAULT_DEAD_LETTER_LIMIT): Promise<OutboxEntry[]> {
    checkPositiveInteger('limit', limit);
    const params = new SqlParameters(this.sql);
    const now = params.add(this.sql.encodeTimestamp(this.clock.now()));
    const forHandler = handler === undefined ? '' : ` AND handler = ${params.add(handler)}`;
    const rows = await this.read<OutboxRow>(
      `SELECT ${OUTBOX_COLUMNS} FROM ${this.tables.outbox} WHERE published_at IS NULL AND dead_lettered_at IS NULL AND lease_until > ${now}${forHandler} ` +
        `ORDER BY lease_until, id LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map((row) => outboxEntryFromRow(row, this.sql));
  }

  /** {@inheritDoc OutboxAdminStore.redrive} */
  async redrive(handler: string, ids?: readonly string[]): Promise<number> {
    if (ids !== undefined) checkIds(ids);
    const wanted = ids === undefined ? undefined : usableIds(ids);
    if (wanted !== undefined && wanted.length === 0) return 0;
    const now = this.sql.encodeTimestamp(this.clock.now());
    const params = new SqlParameters(this.sql);
    const sql = this.dialect.updateWhere(this.tables, () => ({
      set: `dead_lettered_at = NULL, attempts = 0, next_attempt_at = ${params.add(now)}, lease_owner = NULL, lease_until = NULL`,
      where: `handler = ${params.add(handler)} AND dead_lettered_at IS NOT NULL AND published_at IS NULL`,
      ...(wanted === undefined ? {} : { ids: this.idList(params, wanted) }),
    }));
    return (await runAutocommit(this.dataSource, sql, params.values)).length;
  }

  /** {@inheritDoc OutboxAdminStore.stats} Registered handlers and handlers with entries, by name. */
  async stats(handler?: string): Promise<OutboxStats[]> {
    const now = this.sql.encodeTimestamp(this.clock.now());
    const { registered, rows } = await runRead(this.dataSource, async (manager) => {
      const names = new SqlParameters(this.sql);
      const registeredRows = await executeSql<{ handler: string }>(
        manager,
        `SELECT handler FROM ${this.tables.outboxHandlers}${handler === undefined ? '' : ` WHERE handler = ${names.add(handler)}`}`,
        names.values,
      );
      const params = new SqlParameters(this.sql);
      const statsRows = await executeSql<StatsRow>(
        manager,
        'SELECT handler, ' +
          'sum(CASE WHEN dead_lettered_at IS NULL THEN 1 ELSE 0 END) AS pending, ' +
          'min(CASE WHEN dead_lettered_at IS NULL THEN occurred_at END) AS oldest_pending_at, ' +
          `sum(CASE WHEN dead_lettered_at IS NULL AND lease_until > ${params.add(now)} THEN 1 ELSE 0 END) AS leased, ` +
          'sum(CASE WHEN dead_lettered_at IS NOT NULL THEN 1 ELSE 0 END) AS dead_lettered ' +
          `FROM ${this.tables.outbox} WHERE published_at IS NULL` +
          `${handler === undefined ? '' : ` AND handler = ${params.add(handler)}`} GROUP BY handler`,
        params.values,
      );
      return { registered: registeredRows.rows, rows: statsRows.rows };
    });
    const byHandler = new Map<string, OutboxStats>();
    for (const row of registered) byHandler.set(row.handler, { handler: row.handler, pending: 0, leased: 0, deadLettered: 0 });
    for (const row of rows) {
      byHandler.set(row.handler, {
        handler: row.handler,
        pending: this.sql.decodeInteger(row.pending),
        ...(row.oldest_pending_at === null || row.oldest_pending_at === undefined
          ? {}
          : { oldestPendingAt: this.sql.decodeTimestamp(row.oldest_pending_at) }),
        leased: this.sql.decodeInteger(row.leased),
        deadLettered: this.sql.decodeInteger(row.dead_lettered),
      });
    }
    return [...byHandler.values()].sort((a, b) => compareBytes(a.handler, b.handler));
  }

  /** {@inheritDoc OutboxRelayStore.prunePublished} */
  async prunePublished(before: Date): Promise<number> {
    checkDate('before', before);
    return runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      const { affected } = await executeSql(
        manager,
        `DELETE FROM ${this.tables.outbox} WHERE published_at IS NOT NULL AND published_at < ${params.add(this.sql.encodeTimestamp(before))}`,
        params.values,
      );
      return affected ?? 0;
    });
  }

  /**
   * Inserts entries in multi-row statements, skipping (handler, event) pairs that have one
   * already. Rows go in (handler, event id) order, so concurrent inserts of overlapping pairs
   * wait for each other in one order. Returns how many were inserted.
   */
  private async insertEntries(
    manager: EntityManager,
    items: readonly { handler: string; event: RecordedEvent }[],
    now: Date = this.clock.now(),
    notifyChannel?: string,
    origin?: string,
  ): Promise<{ inserted: number; notified: boolean }> {
    if (items.length === 0) return { inserted: 0, notified: false };
    const sorted = this.inInsertOrder(items);
    this.entriesSeen += sorted.length;
    const timestamp = this.sql.encodeTimestamp(now);
    if (this.sql.name === 'postgres') {
      // One statement of constant text whatever the batch size (a column array per field), which
      // also sends the wake-up NOTIFY when it inserted anything: one round trip for both.
      const { rows } = await executeSql<{ inserted: number; notified: number }>(
        manager,
        `WITH inserted AS (INSERT INTO ${this.tables.outbox} (${INSERT_COLUMNS}) ` +
          'SELECT u.id, u.handler, u.aggregate_type, u.aggregate_id, u.stream_id, u.version, u.event_id, u.event_type, u.schema_version, ' +
          'u.payload, u.metadata, u.occurred_at, $13, $13 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], ' +
          '$6::int[], $7::text[], $8::text[], $9::int[], $10::jsonb[], $11::jsonb[], $12::timestamptz[]) ' +
          'AS u(id, handler, aggregate_type, aggregate_id, stream_id, version, event_id, event_type, schema_version, payload, metadata, occurred_at) ' +
          'ON CONFLICT (handler, event_id) DO NOTHING RETURNING id), ' +
          'notified AS (SELECT pg_notify($14, $15) FROM (SELECT 1 FROM inserted LIMIT 1) x WHERE $14::text IS NOT NULL) ' +
          'SELECT (SELECT count(*) FROM inserted)::int AS inserted, (SELECT count(*) FROM notified)::int AS notified',
        [
          sorted.map((item) => item.id),
          sorted.map((item) => item.handler),
          sorted.map((item) => item.event.aggregateType),
          sorted.map((item) => outboxAggregateId(item.event.streamId, item.event.aggregateType)),
          sorted.map((item) => item.event.streamId),
          sorted.map((item) => item.event.version),
          sorted.map((item) => item.event.eventId),
          sorted.map((item) => item.event.type),
          sorted.map((item) => item.event.schemaVersion),
          sorted.map((item) => this.sql.encodeJson(item.event.payload)),
          sorted.map((item) => this.sql.encodeJson(item.event.metadata ?? {})),
          sorted.map((item) => item.event.occurredAt),
          timestamp,
          notifyChannel ?? null,
          origin ?? '',
        ],
      );
      return { inserted: rows[0]?.inserted ?? 0, notified: (rows[0]?.notified ?? 0) > 0 };
    }
    let inserted = 0;
    for (let start = 0; start < sorted.length; start += ENTRY_INSERT_CHUNK) {
      const params = new SqlParameters(this.sql);
      const values = sorted.slice(start, start + ENTRY_INSERT_CHUNK).map(({ id, handler, event }) => {
        const row = [
          id,
          handler,
          event.aggregateType,
          outboxAggregateId(event.streamId, event.aggregateType),
          event.streamId,
          event.version,
          event.eventId,
          event.type,
          event.schemaVersion,
          this.sql.encodeJson(event.payload),
          this.sql.encodeJson(event.metadata ?? {}),
          this.sql.encodeTimestamp(event.occurredAt),
          timestamp,
          timestamp,
        ];
        return `(${row.map((value) => params.add(value)).join(', ')})`;
      });
      const { rows } = await executeSql(
        manager,
        `INSERT INTO ${this.tables.outbox} (${INSERT_COLUMNS}) VALUES ${values.join(', ')} ` +
          'ON CONFLICT (handler, event_id) DO NOTHING RETURNING id',
        params.values,
      );
      inserted += rows.length;
    }
    return { inserted, notified: false };
  }

  /**
   * SQLite, inside the appending transaction: the unit's entries copied from the events rows the
   * journal has just inserted, as PostgreSQL's one-statement append does, in one statement of
   * constant text (prepared once, cached by the driver) whose one parameter is the entries' ids,
   * handlers, aggregate ids and event ids as a JSON array. Payload and metadata are neither
   * encoded again nor bound again: with an outbox handler, those copies were most of what the
   * outbox added to a command on SQLite.
   */
  private async insertEntriesOfUnit(manager: EntityManager, items: readonly { handler: string; event: RecordedEvent }[]): Promise<void> {
    if (items.length === 0) return;
    const timestamp = this.sql.encodeTimestamp(this.clock.now());
    const entries = this.inInsertOrder(items).map(({ id, handler, event }) => [
      id,
      handler,
      outboxAggregateId(event.streamId, event.aggregateType),
      event.eventId,
    ]);
    // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join.
    await executeSql(
      manager,
      `INSERT INTO ${this.tables.outbox} (${INSERT_COLUMNS}) ` +
        "SELECT u.value ->> 0, u.value ->> 1, e.aggregate_type, u.value ->> 2, e.stream_id, e.version, e.event_id, e.type, e.schema_version, " +
        `e.payload, e.metadata, e.occurred_at, ?, ? FROM json_each(?) u JOIN ${this.tables.events} e ON e.event_id = u.value ->> 3 ` +
        'WHERE true ORDER BY u.key ON CONFLICT (handler, event_id) DO NOTHING',
      [timestamp, timestamp, JSON.stringify(entries)],
    );
  }

  /**
   * Applies `set` to the entries (all of the handler's when `ids` is undefined) that `owner` holds
   * an unexpired lease on; returns how many. The fence is part of the UPDATE itself, and on
   * PostgreSQL it is re-checked on the row as locked.
   */
  private async fencedUpdate(
    handler: string,
    owner: string,
    ids: readonly string[] | undefined,
    now: Date,
    set: (params: SqlParameters) => string,
  ): Promise<number> {
    const wanted = ids === undefined ? undefined : usableIds(ids);
    if (wanted !== undefined && wanted.length === 0) return 0;
    const params = new SqlParameters(this.sql);
    const sql = this.dialect.updateWhere(this.tables, () => ({
      set: set(params),
      where:
        `handler = ${params.add(handler)} AND lease_owner = ${params.add(owner)} ` +
        `AND lease_until > ${params.add(this.sql.encodeTimestamp(now))} AND published_at IS NULL AND dead_lettered_at IS NULL`,
      ...(wanted === undefined ? {} : { ids: this.idList(params, wanted) }),
    }));
    return (await runAutocommit(this.dataSource, sql, params.values, this.prepared())).length;
  }

  /** How the relay's statements run: prepared (unless turned off), in the plan generation of the entries seen so far. */
  private prepared(): AutocommitOptions {
    return this.preparedStatements ? { prepare: true, planGeneration: planGeneration(this.entriesSeen) } : {};
  }

  /** One entry per event and handler subscribed to its type, by subscription, then in the events' order. */
  private routed<E extends { type: string }>(events: readonly E[]): Array<{ handler: string; event: E }> {
    return [...this.subscriptions.values()].flatMap((subscription) =>
      events.filter((event) => outboxSubscriptionReceives(subscription, event.type)).map((event) => ({ handler: subscription.handler, event })),
    );
  }

  /**
   * Entries with their ids, in insert order: (handler, event id), so concurrent inserts of
   * overlapping pairs wait for each other in one order. Ids are taken in the order given (stream,
   * then version), so they sort like the events did.
   */
  private inInsertOrder<E extends { eventId: string }>(items: readonly { handler: string; event: E }[]): Array<{ handler: string; event: E; id: string }> {
    return items
      .map((item) => ({ ...item, id: timeOrderedId() }))
      .sort((a, b) => compareBytes(a.handler, b.handler) || compareBytes(a.event.eventId, b.event.eventId));
  }

  /** Entry ids as {@link OutboxDialect.updateWhere} takes them. */
  private idList(params: SqlParameters, ids: readonly string[]): string {
    return this.sql.name === 'postgres' ? `${params.add(ids)}::uuid[]` : `(${ids.map((id) => params.add(id)).join(', ')})`;
  }

  private read<Row>(sql: string, params: unknown[]): Promise<Row[]> {
    return runRead(this.dataSource, async (manager) => (await executeSql<Row>(manager, sql, params)).rows);
  }
}

/** Code-point order of UTF-8 text: the order of PostgreSQL's `COLLATE "C"` and SQLite's BINARY. */
function compareBytes(left: string, right: string): number {
  // Without encoding: UTF-16 code units compare like code points (and so like UTF-8 bytes) except
  // that a surrogate (half of a code point above U+FFFF) sorts below U+E000–U+FFFF; flip that case.
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const a = left.charCodeAt(index);
    const b = right.charCodeAt(index);
    if (a === b) continue;
    if (a >= 0xd800 && a <= 0xdfff && b >= 0xe000) return 1;
    if (b >= 0xd800 && b <= 0xdfff && a >= 0xe000) return -1;
    return a - b;
  }
  return left.length - right.length;
}

function byAggregateThenVersion(a: OutboxEntry, b: OutboxEntry): number {
  return compareBytes(a.streamId, b.streamId) || a.version - b.version;
}

/**
 * The aggregate the next claim starts after: the last one this claim took in its walk order
 * (aggregates after the cursor, then from the start up to it). Undefined when it took nothing.
 */
function nextCursor(entries: readonly OutboxEntry[], cursor: string): string | undefined {
  let afterCursor: string | undefined;
  let wrapped: string | undefined;
  for (const { streamId } of entries) {
    if (compareBytes(streamId, cursor) > 0) {
      if (afterCursor === undefined || compareBytes(streamId, afterCursor) > 0) afterCursor = streamId;
    } else if (wrapped === undefined || compareBytes(streamId, wrapped) > 0) {
      wrapped = streamId;
    }
  }
  return wrapped ?? afterCursor;
}

/** Entry ids are UUIDs; anything else cannot name an entry (and PostgreSQL's uuid column would refuse it). */
function usableIds(ids: readonly string[]): string[] {
  return [...new Set(ids.map((id) => id.toLowerCase()).filter((id) => UUID.test(id)))];
}

function checkNotifyChannel(channel: string): string {
  if (typeof channel !== 'string' || channel.length === 0 || Buffer.byteLength(channel, 'utf8') > MAX_NOTIFY_CHANNEL_BYTES) {
    throw new ConfigurationError(
      `notifyChannel "${String(channel)}" is not usable: PostgreSQL channel names are 1 to ${MAX_NOTIFY_CHANNEL_BYTES} bytes.`,
    );
  }
  return channel;
}

