import type { EntityManager } from 'typeorm';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlStatement } from '../journal/journal-dialect.js';
import type { ChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import type { OutboxClaimRequest, OutboxDialect } from './outbox-dialect.js';
import { OUTBOX_COLUMNS } from './outbox-row.js';

/**
 * The claim on PostgreSQL, one statement (READ COMMITTED). Its parts, as CTEs:
 *
 * - `after_cursor`, `before_cursor`: the aggregates (stream ids) of the handler that have
 *   unpublished entries, by a skip scan over the claim index — one index probe per aggregate,
 *   however many entries each holds — starting after the aggregate the previous claim ended
 *   with and wrapping round, so a backlog in some aggregates cannot starve the others. Recursive
 *   CTEs are evaluated lazily: the walk stops as soon as `heads` has enough rows.
 * - `heads`: per aggregate, the head (its lowest unpublished version, from the statement's
 *   snapshot), then that row locked `FOR UPDATE SKIP LOCKED` with its eligibility (not
 *   dead-lettered, due, lease absent or expired) checked on the row as locked. Under READ
 *   COMMITTED a row changed since the snapshot is re-checked in its latest version before it is
 *   returned, so a head that another claimer leased, or an owner published, failed or parked in
 *   the meantime is dropped; a head another transaction holds locked right now is skipped, and
 *   the LIMIT counts only heads actually taken, so concurrent claimers spread over aggregates
 *   instead of queueing on the same ones. The head lock is what makes ownership exclusive.
 * - `run_snapshot`, `run_picked`: for each locked head only, the later unpublished entries of its
 *   aggregate cut at the first one that is not eligible, then filled breadth-first (every
 *   aggregate's second entry before any third) up to the limit.
 * - `run_locked`, `run_taken`: those run rows locked `SKIP LOCKED` and re-checked as locked; a run
 *   is cut again at its first row that was skipped or is no longer eligible, so no entry is ever
 *   taken without every earlier unpublished entry of its aggregate being taken with it.
 * - `claimed`: the lease (owner, until) on heads and runs, returning the rows.
 *
 * Why the snapshot's head is the real head: an aggregate's entries are written in version order
 * (appends to one stream are serialised by the stream row), and a row once published is never
 * unpublished; so an entry below the snapshot's head can only be one committed later by a backfill,
 * and a handler's backfill completes before the handler is ready — claims return nothing until
 * then. Heads whose state moved on are re-checked under the lock, as above.
 *
 * Why it cannot deadlock: every lock is taken with SKIP LOCKED, and the final UPDATE touches only
 * rows this statement already holds, so a claim never waits for a lock. Fenced updates (the other
 * writers) lock their rows in (stream, version) order, so they never wait on each other in a cycle.
 *
 * Every time is the store clock's, passed in: leases, backoff and expiry agree with the clock the
 * tests (and the relay) use, across processes as far as their clocks agree.
 */
function claimStatement(tables: ChronicleTables, request: OutboxClaimRequest): SqlStatement {
  const params = new SqlParameters(postgresDialect);
  const t = tables.outbox;
  const handler = params.add(request.handler);
  const now = params.add(request.now);
  const cursor = params.add(request.cursor);
  const limit = params.add(request.limit);
  const eligible = (alias: string): string =>
    `${alias}.dead_lettered_at IS NULL AND ${alias}.next_attempt_at <= ${now}::timestamptz ` +
    `AND (${alias}.lease_until IS NULL OR ${alias}.lease_until <= ${now}::timestamptz)`;
  const nextStream = (from: string, upTo?: string): string =>
    `(SELECT o.stream_id FROM ${t} o WHERE o.handler = ${handler} AND o.published_at IS NULL AND o.stream_id > ${from}` +
    `${upTo === undefined ? '' : ` AND o.stream_id <= ${upTo}`} ORDER BY o.stream_id LIMIT 1)`;
  const sql = `WITH RECURSIVE
    after_cursor(stream_id) AS (
      SELECT ${nextStream(`${cursor}::text`)}
      UNION ALL
      SELECT ${nextStream('s.stream_id')} FROM after_cursor s WHERE s.stream_id IS NOT NULL
    ),
    before_cursor(stream_id) AS (
      SELECT (SELECT o.stream_id FROM ${t} o WHERE o.handler = ${handler} AND o.published_at IS NULL
              AND o.stream_id <= ${cursor}::text ORDER BY o.stream_id LIMIT 1)
      UNION ALL
      SELECT ${nextStream('s.stream_id', `${cursor}::text`)} FROM before_cursor s WHERE s.stream_id IS NOT NULL
    ),
    candidates AS (
      SELECT 0 AS lap, stream_id FROM after_cursor WHERE stream_id IS NOT NULL
      UNION ALL
      SELECT 1 AS lap, stream_id FROM before_cursor WHERE stream_id IS NOT NULL
    ),
    heads AS MATERIALIZED (
      SELECT c.lap, l.id, l.stream_id, l.version
      FROM candidates c
      CROSS JOIN LATERAL (
        SELECT o.id FROM ${t} o WHERE o.handler = ${handler} AND o.published_at IS NULL AND o.stream_id = c.stream_id
        ORDER BY o.version LIMIT 1
      ) h
      CROSS JOIN LATERAL (
        SELECT o.id, o.stream_id, o.version FROM ${t} o
        WHERE o.id = h.id AND o.published_at IS NULL AND ${eligible('o')}
        FOR UPDATE SKIP LOCKED
      ) l
      WHERE EXISTS (SELECT 1 FROM ${tables.outboxHandlers} r WHERE r.handler = ${handler} AND r.ready_at IS NOT NULL)
      LIMIT ${limit}
    ),
    run_snapshot AS MATERIALIZED (
      SELECT r.id, r.stream_id, r.version, h.lap,
        row_number() OVER (PARTITION BY r.stream_id ORDER BY r.version) AS rank,
        bool_and(r.eligible) OVER (PARTITION BY r.stream_id ORDER BY r.version) AS unbroken
      FROM heads h CROSS JOIN LATERAL (
        SELECT o.id, o.stream_id, o.version, (${eligible('o')}) AS eligible FROM ${t} o
        WHERE o.handler = ${handler} AND o.published_at IS NULL AND o.stream_id = h.stream_id AND o.version > h.version
        ORDER BY o.version LIMIT ${limit}
      ) r
    ),
    run_picked AS MATERIALIZED (
      SELECT id, stream_id, version FROM run_snapshot WHERE unbroken
      ORDER BY rank, lap, stream_id
      LIMIT (SELECT ${limit}::bigint - count(*) FROM heads)
    ),
    run_locked AS MATERIALIZED (
      SELECT o.id, (${eligible('o')}) AS eligible FROM ${t} o
      WHERE o.id = ANY (ARRAY(SELECT id FROM run_picked)) AND o.published_at IS NULL
      FOR UPDATE SKIP LOCKED
    ),
    run_taken AS (
      SELECT id FROM (
        SELECT p.id, bool_and(COALESCE(l.eligible, false)) OVER (PARTITION BY p.stream_id ORDER BY p.version) AS unbroken
        FROM run_picked p LEFT JOIN run_locked l ON l.id = p.id
      ) x WHERE x.unbroken
    ),
    claimed AS (
      UPDATE ${t} o SET lease_owner = ${params.add(request.owner)}, lease_until = ${params.add(request.leaseUntil)}
      WHERE o.id = ANY (ARRAY(SELECT id FROM heads UNION ALL SELECT id FROM run_taken))
      RETURNING ${OUTBOX_COLUMNS.split(', ').map((column) => `o.${column}`).join(', ')}
    )
    SELECT ${OUTBOX_COLUMNS} FROM claimed`;
  return { sql, params: params.values };
}

/** PostgreSQL: the claim above, fenced updates in lock order, and NOTIFY as the wake-up. */
export const postgresOutboxDialect: OutboxDialect = {
  sql: postgresDialect,

  claim: claimStatement,

  updateWhere(tables, build): string {
    const { set, where, ids } = build();
    // Rows are locked in (stream, version) order first: two fenced updates over overlapping rows
    // then wait for each other in one order, never in a cycle. The sort keys are expressions no
    // index provides, on purpose: sorting by the plain columns lets the planner walk the claim
    // index (handler, stream_id, version) over the handler's whole pending backlog to avoid a sort.
    const order = "ORDER BY stream_id || '', version + 0 FOR UPDATE";
    if (ids === undefined) {
      // The lock re-checks `where` on the latest row version, so a lease that changed hands
      // meanwhile is not touched.
      return `UPDATE ${tables.outbox} o SET ${set} FROM (SELECT id FROM ${tables.outbox} WHERE ${where} ${order}) l WHERE o.id = l.id RETURNING o.id`;
    }
    // Named rows are fetched by primary key only, locked, and `where` is checked on the values
    // the lock returned (under READ COMMITTED, the latest versions); the UPDATE then finds them
    // by primary key too. Any condition on `handler` or `published_at` where the planner can use
    // it lets it walk the claim index over the handler's whole backlog instead, and it does
    // whenever its statistics are older than the backlog (the usual case when a backlog builds up
    // during an outage): the relay then slows down as the backlog grows. OFFSET 0 keeps `where`
    // from being pushed into the locking scan. Locking a named row that fails `where` (another
    // owner took it over) only waits, in the same order as every other fenced update.
    return (
      `UPDATE ${tables.outbox} o SET ${set} FROM (SELECT id FROM (` +
      `SELECT id, handler, lease_owner, lease_until, published_at, dead_lettered_at FROM ${tables.outbox} ` +
      `WHERE id = ANY (${ids}) ${order} OFFSET 0) locked WHERE ${where}) l WHERE o.id = l.id RETURNING o.id`
    );
  },

  async notify(manager: EntityManager, channel: string, origin?: string): Promise<void> {
    // Delivered at commit, dropped on rollback; the same payload as the journal's lets PostgreSQL
    // fold duplicates.
    await executeSql(manager, 'SELECT pg_notify($1, $2)', [channel, origin ?? '']);
  },
};
