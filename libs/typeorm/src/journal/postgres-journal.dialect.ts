import type { EntityManager } from 'typeorm';
import type { EventQuery, FeedBlocker, FeedCursor } from '@chronicle/core';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { ChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { EVENT_COLUMNS, type EventRow } from './event-row.js';
import { invalidFeedCursor } from './invalid-feed-cursor.js';
import type { FeedQueryRow, JournalDialect, SqlStatement } from './journal-dialect.js';
import { TransactionIdsAheadError } from './transaction-ids-ahead.error.js';

const CURSOR = /^(\d+):(\d+)$/;
/** The largest transaction id (xid8) and position (int8) a cursor can carry. */
const MAX_TX_ID = 2n ** 64n - 1n;
const MAX_POSITION = 2n ** 63n - 1n;
/** The events after its cursor a generically planned condition check reads in order before it searches by index (see `conditionHoldsForGenericPlan`). */
const RECENT_EVENTS = 100;

/** A cursor's transaction id and position, or `InvalidFeedCursor` (also past the columns' ranges, before SQL sees them). */
function parseCursor(cursor: FeedCursor): readonly [bigint, bigint] {
  const match = CURSOR.exec(cursor);
  const parsed = match ? ([BigInt(match[1]!), BigInt(match[2]!)] as const) : undefined;
  if (!parsed || parsed[0] > MAX_TX_ID || parsed[1] > MAX_POSITION) throw invalidFeedCursor(cursor, '"<transaction id>:<position>"');
  return parsed;
}

/**
 * SQL that is true when this journal handed `cursor` out: a cursor below a bound (see
 * `cursorBelowBound`) when its transaction id was assigned here (below `snapshot`'s xmax), any
 * other when its event is in this journal at that transaction id and position. `tx` and `pos` are
 * the cursor's placeholders (or literals), typed xid8 and bigint.
 */
function cursorKnown(tables: ChronicleTables, position: bigint, tx: string, pos: string, snapshot = 'pg_current_snapshot()'): string {
  return position === MAX_POSITION
    ? `${tx} < pg_snapshot_xmax(${snapshot})`
    : `EXISTS (SELECT 1 FROM ${tables.events} k WHERE k.tx_id = ${tx} AND k.position = ${pos})`;
}

/**
 * The cursor just below a feed bound: after every event of a transaction below `bound`, before
 * every event of `bound` and later ones (the largest position of the transaction before it). A
 * bound may equal the snapshot's xmax, which a cursor must stay below (see `aheadColumns`).
 */
export function cursorBelowBound(bound: string): FeedCursor {
  return `${BigInt(bound) - 1n}:${MAX_POSITION}`;
}

/**
 * The feed's upper bound on transaction ids, as CTEs `snap`, `held`, `locks`, `owners` and `bound`.
 *
 * The sound bound is the statement snapshot's xmin: every transaction below it has finished, so
 * no event can still appear below it, and a cursor taken from rows under it never skips one.
 * But xmin is cluster-wide: any long write transaction anywhere (another schema, another app)
 * would hold this feed back. So when xmin does hold events back (`held`), the bound is refined to
 * the oldest snapshot transaction that is *relevant*. Every snapshot transaction is relevant
 * unless all of this is known of it: its own session still holds its id, it has not finished,
 * and that session holds or waits for no lock stronger than a plain read's on this journal's
 * streams or events table. Such a transaction has not written events, and cannot write any below
 * the bound later: a journal append takes the streams table lock at its first write, before
 * PostgreSQL gives it a transaction id (the reason the stream row must be the unit's first write,
 * and why anything else that writes these tables must also write them first in its transaction).
 * Rolling back to a savepoint drops the locks taken after it while the transaction keeps its id,
 * so a journal write must not sit in a savepoint that is rolled back while its transaction goes
 * on. Chronicle's appends never do (each is its own transaction), and a participant's savepoints
 * come after the journal's locks, which they leave in place.
 *
 * Only the transaction's owner can make it irrelevant, never another session:
 * - `locks` keeps, of the `transactionid` rows of `pg_locks`, only the owner's: the granted
 *   `ExclusiveLock` a backend takes on its own id. A session that waits on the transaction (it
 *   updates or locks a row the transaction wrote, inserts a key it inserted, creates a logical
 *   replication slot) has a not-granted `ShareLock` row on the same id, and is granted that
 *   `ShareLock` for a moment once the owner ends; read as the owner, such a session (holding no
 *   journal lock) made an appending transaction look irrelevant, and readers passed its events.
 * - A relation lock counts whether granted or not: a transaction waiting to lock the journal
 *   tables may write events as soon as it gets the lock.
 * - A prepared transaction's locks have no pid (they belong to no session), so it has no owner
 *   row and stays relevant until it is committed or rolled back.
 * - `owners.running` asks `pg_xact_status` after `pg_locks` was read (it is computed per row of
 *   the join with `locks`): a transaction that committed after the snapshot releases its relation
 *   locks before its id lock, one lock partition at a time, so the lock scan alone may see its id
 *   without its journal lock; its events, invisible to this snapshot, would be passed.
 *
 * Running transactions and their relation locks come from one `pg_locks` scan, read after the
 * snapshot was taken. `held` compares the newest event's transaction id with xmin: one backward
 * step on the (tx_id, position) index, where an EXISTS over `tx_id >= xmin` scanned the whole
 * table on every page.
 */
function boundCtes(tables: ChronicleTables, params: SqlParameters): string {
  return `WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
    held AS MATERIALIZED (
      SELECT COALESCE((SELECT max(h.tx_id) FROM ${tables.events} h) >= pg_snapshot_xmin(snap.s), false) AS yes FROM snap
    ),
    locks AS MATERIALIZED (
      SELECT l.locktype, l.pid, l.transactionid FROM pg_locks l
      WHERE (SELECT yes FROM held) AND l.pid IS NOT NULL AND (
        (l.locktype = 'transactionid' AND l.granted AND l.mode = 'ExclusiveLock')
        OR (l.locktype = 'relation' AND l.mode <> 'AccessShareLock'
          AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
          AND l.relation IN (to_regclass(${params.add(tables.streams)}), to_regclass(${params.add(tables.events)})))
      )
    ),
    owners AS MATERIALIZED (
      SELECT x.xid, t.pid, pg_xact_status(x.xid) = 'in progress' AS running
      FROM snap CROSS JOIN pg_snapshot_xip(snap.s) AS x(xid)
      JOIN locks t ON t.locktype = 'transactionid' AND t.transactionid = xid(x.xid)
    ),
    bound AS MATERIALIZED (
      SELECT CASE WHEN NOT (SELECT yes FROM held) THEN pg_snapshot_xmin(snap.s) ELSE COALESCE(
        (SELECT min(x.xid) FROM pg_snapshot_xip(snap.s) AS x(xid) WHERE NOT EXISTS (
          SELECT 1 FROM owners o WHERE o.xid = x.xid AND o.running
            AND NOT EXISTS (SELECT 1 FROM locks r WHERE r.locktype = 'relation' AND r.pid = o.pid))),
        pg_snapshot_xmax(snap.s)) END AS xid
      FROM snap
    )`;
}

/**
 * The columns of the feed's `ahead` CTE: `newest`, the journal's newest transaction id when it
 * is at or past the snapshot's xmax, and `cursor_ahead`, whether the cursor's is. Neither can be
 * this cluster's: every transaction it has assigned an id and that a snapshot sees as finished is
 * below xmax. A journal restored from another cluster keeps the old cluster's ids (see
 * `TransactionIdsAheadError`); its feed would hide the restored events and skip new ones.
 *
 * Own writes are left out: a transaction that appended before reading the feed in the same
 * transaction (a caller's `tx`) may hold an id at or past its snapshot's xmax. A cursor counts
 * only under READ COMMITTED on a primary, whose statement snapshot postdates the commit that
 * handed the cursor out; an older snapshot (REPEATABLE READ) or a standby that has not replayed
 * that commit yet may predate it, and reads nothing after it instead.
 */
function aheadColumns(tables: ChronicleTables, cursorTx: string | undefined): string {
  const own = 'pg_current_xact_id_if_assigned()';
  const newest =
    `(SELECT max(h.tx_id) FROM ${tables.events} h WHERE h.tx_id >= pg_snapshot_xmax(snap.s) ` +
    `AND h.tx_id IS DISTINCT FROM ${own})::text AS newest`;
  const cursor =
    cursorTx === undefined
      ? 'false'
      : `(${cursorTx}::xid8 >= pg_snapshot_xmax(snap.s) AND ${cursorTx}::xid8 IS DISTINCT FROM ${own} ` +
        `AND current_setting('transaction_isolation') = 'read committed' AND NOT pg_is_in_recovery())`;
  return `${newest}, ${cursor} AS cursor_ahead`;
}

/**
 * PostgreSQL: the feed is ordered by (writing transaction id, position) and reads only rows of
 * transactions below a bound no unfinished append can fall under (see {@link boundCtes}), so an
 * event that commits late is never skipped and no timer decides that a gap is permanent. The
 * cursor is `<xid8>:<position>`.
 */
export const postgresJournalDialect: JournalDialect = {
  sql: postgresDialect,
  insertReturning: 'position, event_id, tx_id::text AS tx_id',
  // occurred_at as epoch milliseconds: pg's timestamptz parser costs about as much as the rest of
  // the row, and the feed reads rows by the thousand. Metadata and tags as JSON text: pg would
  // parse every one; the decoder parses them itself, once per distinct text in a row (see
  // `EventPageMemo`): the events of a unit share their metadata. The position as text: pg's int8
  // parser runs a regular expression over every value to hand back the same text.
  eventColumns:
    EVENT_COLUMNS.replace('e.position', 'e.position::text AS position')
      .replace('e.occurred_at', '(extract(epoch FROM e.occurred_at) * 1000)::float8 AS occurred_at')
      .replace('e.metadata', 'e.metadata::text AS metadata')
      .replace("NULLIF(e.tags, '[]') AS tags", "NULLIF(e.tags, '[]'::jsonb)::text AS tags") + ', e.tx_id::text AS tx_id',

  cursorAt(row): FeedCursor {
    return `${String(row.tx_id)}:${String(row.position)}`;
  },

  compareCursors(a: FeedCursor, b: FeedCursor): number {
    const [x, y] = [parseCursor(a), parseCursor(b)];
    if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] === y[1] ? 0 : x[1] < y[1] ? -1 : 1;
  },

  feedQuery(tables: ChronicleTables, after: FeedCursor | null, limit: number, bound?: string, filter?: (params: SqlParameters) => string): SqlStatement {
    const params = new SqlParameters(postgresDialect);
    const ctes = bound === undefined ? `${boundCtes(tables, params)} ` : '';
    // A bound handed back by an earlier page holds for snapshots taken after it was worked out:
    // under READ COMMITTED every statement's. A REPEATABLE READ or SERIALIZABLE transaction (a
    // caller's `tx`) reads with the snapshot of its first statement, which may predate the bound
    // and miss a unit below it that committed since: such a read gets no rows here and works its
    // own bound out (the journal reads again when a page comes back short).
    // A filtered read (readByQuery, a decision's) finds its rows through the filter's indexes (tags,
    // type). The planner cannot know the bound, estimates a third of the table below it, and
    // ANDed a bitmap of the (tx_id, position) index over every event below the bound with the tag's:
    // on the bench, 31,000 index entries (10-27 ms) for a read of 30 events, growing with the
    // journal. `IS TRUE` keeps the bound a plain filter on the rows the filter's indexes found.
    const belowBound = filter === undefined ? 'e.tx_id < (SELECT xid FROM bound)' : '(e.tx_id < (SELECT xid FROM bound)) IS TRUE';
    const conditions = [
      bound === undefined
        ? belowBound
        : `e.tx_id < ${params.add(bound)}::xid8 AND current_setting('transaction_isolation') = 'read committed'`,
    ];
    let cursorTx: string | undefined;
    let knownAfter = '';
    if (after !== null) {
      const [txId, position] = parseCursor(after);
      cursorTx = params.add(String(txId));
      const cursorPosition = params.add(String(position));
      conditions.unshift(`(e.tx_id, e.position) > (${cursorTx}::xid8, ${cursorPosition}::bigint)`);
      // A filtered read (a decision's, reading on from where its last read ended) checks in the same
      // statement that the journal handed its cursor out (`knownCursor`'s test), not in a round trip
      // of its own.
      if (filter !== undefined) {
        knownAfter = `, ${cursorKnown(tables, position, `${cursorTx}::xid8`, `${cursorPosition}::bigint`, 'snap.s')} AS known_after`;
      }
    }
    if (filter !== undefined) conditions.push(`(${filter(params)})`);
    const order = 'ORDER BY e.tx_id, e.position';
    const page = `FROM ${tables.events} e WHERE ${conditions.join(' AND ')} ${order} LIMIT ${params.add(limit)}`;
    if (bound !== undefined) return { sql: `SELECT ${this.eventColumns} ${page}`, params: params.values };
    // Working the bound out costs more to plan than the page costs to read; a catch-up reads
    // many full pages below one bound, so the bound is handed back for the next page.
    // The same statement checks that the journal is this cluster's (see `feedRows`): one row
    // comes back even when the page is empty, carrying the check.
    return {
      sql:
        `${ctes}, ahead AS MATERIALIZED (SELECT pg_snapshot_xmax(snap.s)::text AS xmax, ${aheadColumns(tables, cursorTx)}, ` +
        // Asked after the bound was worked out: a bound held by a transaction that has finished
        // since (it committed between the snapshot and the lock scan, which a conservative bound
        // must count as relevant) lets the journal read again rather than stop short.
        `(SELECT xid FROM bound) < pg_snapshot_xmax(snap.s) AND pg_xact_status((SELECT xid FROM bound)) IS DISTINCT FROM 'in progress' AS bound_finished${knownAfter} ` +
        `FROM snap) ` +
        `SELECT ${this.eventColumns}, (SELECT xid FROM bound)::text AS feed_bound, a.xmax AS feed_xmax, ` +
        `a.newest AS feed_newest_ahead, a.cursor_ahead AS feed_cursor_ahead, a.bound_finished AS feed_bound_finished` +
        `${knownAfter === '' ? '' : ', a.known_after AS feed_known_after'} ` +
        `FROM ahead a LEFT JOIN LATERAL (SELECT e.* ${page}) e ON true ${order}`,
      params: params.values,
    };
  },

  feedRows(rows: readonly FeedQueryRow[], after: FeedCursor | null): EventRow[] {
    const check = rows[0];
    if (check?.feed_xmax === undefined || check.feed_xmax === null) return rows as EventRow[];
    if (check.feed_newest_ahead !== null && check.feed_newest_ahead !== undefined) {
      throw new TransactionIdsAheadError("The journal's newest event", check.feed_newest_ahead, check.feed_xmax);
    }
    if (check.feed_cursor_ahead === true && after !== null) {
      throw new TransactionIdsAheadError(`The feed cursor ${after}`, String(parseCursor(after)[0]), check.feed_xmax);
    }
    return rows.filter((row) => row.position !== null);
  },

  queryCondition(_tables: ChronicleTables, params: SqlParameters, query: EventQuery): string {
    // Each item: type = ANY (the type index) and jsonb containment of all its tags (the GIN index);
    // the items OR together into a BitmapOr.
    return query
      .map((item) => {
        const parts: string[] = [];
        if (item.types !== undefined && item.types.length > 0) parts.push(`e.type = ANY(${params.add([...item.types])}::text[])`);
        if (item.tags !== undefined && item.tags.length > 0) parts.push(`e.tags @> ${params.add(JSON.stringify(item.tags))}::jsonb`);
        return parts.length === 0 ? 'true' : `(${parts.join(' AND ')})`;
      })
      .join(' OR ');
  },

  knownCursor(tables: ChronicleTables, cursor: FeedCursor): SqlStatement {
    const [txId, position] = parseCursor(cursor);
    // A bound's cursor is checked by its transaction id alone: no parameter for its position.
    const params = position === MAX_POSITION ? [String(txId)] : [String(txId), String(position)];
    return { sql: `SELECT ${cursorKnown(tables, position, '$1::xid8', '$2::bigint')} AS known`, params };
  },

  conditionHolds(tables: ChronicleTables, params: SqlParameters, after: FeedCursor | null, query: EventQuery): string {
    const matches = this.queryCondition(tables, params, query);
    if (after === null) return `NOT EXISTS (SELECT 1 FROM ${tables.events} e WHERE ${matches})`;
    const [txId, position] = parseCursor(after);
    const tx = `${params.add(String(txId))}::xid8`;
    const pos = `${params.add(String(position))}::bigint`;
    const known = cursorKnown(tables, position, tx, pos);
    return `${known} AND NOT EXISTS (SELECT 1 FROM ${tables.events} e WHERE (e.tx_id, e.position) > (${tx}, ${pos}) AND (${matches}))`;
  },

  conditionHoldsForGenericPlan(tables: ChronicleTables, params: SqlParameters, after: FeedCursor | null, query: EventQuery): string | undefined {
    // A generic plan knows no value: it cannot tell a cursor with three events after it from one
    // with a million, nor a rare tag from a common one. With the form of `conditionHolds` it
    // scanned the whole table (measured: 11 ms at 20,000 events, for a check that needs 0.01 ms).
    // So the check reads the first RECENT_EVENTS + 1 events after the cursor in (tx_id, position)
    // order, the index's order, which the plan uses whatever the values: when there are no more,
    // they are all the events after it and it looks at them (a decision's cursor is its read's,
    // a handful of units ago). Only past that (a cursor far behind) does it search the tags' GIN
    // index, the only index left usable there (`IS TRUE` keeps the other conditions filters; with
    // them usable the generic plan chose a whole-table scan), and the CASE runs that branch only
    // then. Without a cursor, or with an item that names types but no tags, no index is the
    // right one for every value: undefined, and the check is planned with its values.
    if (after === null || query.length === 0) return undefined;
    const hasTypes = (item: EventQuery[number]): boolean => item.types !== undefined && item.types.length > 0;
    const hasTags = (item: EventQuery[number]): boolean => item.tags !== undefined && item.tags.length > 0;
    if (query.some((item) => hasTypes(item) && !hasTags(item))) return undefined;
    const [txId, position] = parseCursor(after);
    const tx = `${params.add(String(txId))}::xid8`;
    const pos = `${params.add(String(position))}::bigint`;
    const known = cursorKnown(tables, position, tx, pos);
    const since = `(e.tx_id, e.position) > (${tx}, ${pos})`;
    let far: string;
    // An item matching any event ({}): past RECENT_EVENTS there are events after the cursor, so it fails.
    if (query.some((item) => !hasTags(item))) far = 'false';
    else {
      const items = query.map((item) => {
        const tags = `e.tags @> ${params.add(JSON.stringify(item.tags))}::jsonb`;
        return hasTypes(item) ? `((e.type = ANY(${params.add([...item.types!])}::text[])) IS TRUE AND ${tags})` : `(${tags})`;
      });
      far = `NOT EXISTS (SELECT 1 FROM ${tables.events} e WHERE (${since}) IS TRUE AND (${items.join(' OR ')}))`;
    }
    return (
      `${known} AND (SELECT CASE WHEN count(*) <= ${RECENT_EVENTS} THEN NOT COALESCE(bool_or(${this.queryCondition(tables, params, query)}), false) ELSE ${far} END ` +
      `FROM (SELECT e.type, e.tags FROM ${tables.events} e WHERE ${since} ORDER BY e.tx_id, e.position LIMIT ${RECENT_EVENTS + 1}) e)`
    );
  },

  firstMatchAfter(tables: ChronicleTables, after: FeedCursor | null, query: EventQuery): SqlStatement {
    const params = new SqlParameters(postgresDialect);
    const conditions = [`(${this.queryCondition(tables, params, query)})`];
    if (after !== null) {
      const [txId, position] = parseCursor(after);
      conditions.unshift(`(e.tx_id, e.position) > (${params.add(String(txId))}::xid8, ${params.add(String(position))}::bigint)`);
    }
    return {
      sql: `SELECT ${this.eventColumns} FROM ${tables.events} e WHERE ${conditions.join(' AND ')} ORDER BY e.tx_id, e.position LIMIT 1`,
      params: params.values,
    };
  },

  async feedBlocker(manager: EntityManager, tables: ChronicleTables): Promise<FeedBlocker | undefined> {
    // Held back means: committed events wait behind the bound's transaction. Without such
    // events nothing is held, whatever else runs on the server.
    const params = new SqlParameters(postgresDialect);
    const { rows } = await executeSql<{
      transaction_id: string;
      pid: number | null;
      xact_start: Date | null;
      state: string | null;
      query: string | null;
    }>(
      manager,
      `${boundCtes(tables, params)}
       SELECT b.xid::text AS transaction_id, t.pid, a.xact_start, a.state, a.query
       FROM bound b CROSS JOIN snap
       LEFT JOIN owners t ON t.xid = b.xid
       LEFT JOIN pg_stat_activity a ON a.pid = t.pid
       WHERE b.xid < pg_snapshot_xmax(snap.s)
         AND EXISTS (SELECT 1 FROM ${tables.events} e WHERE e.tx_id >= b.xid)
       LIMIT 1`,
      params.values,
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      transactionId: row.transaction_id,
      ...(row.pid === null ? {} : { pid: row.pid }),
      ...(row.xact_start === null ? {} : { startedAt: row.xact_start }),
      ...(row.state === null ? {} : { state: row.state }),
      ...(row.query === null ? {} : { query: row.query }),
    };
  },
};
