import type { EntityManager } from 'typeorm';
import type { FeedBlocker, FeedCursor } from '@chronicle/core';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { ChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { EVENT_COLUMNS } from './event-row.js';
import { invalidFeedCursor } from './invalid-feed-cursor.js';
import type { JournalDialect, SqlStatement } from './journal-dialect.js';

const CURSOR = /^(\d+):(\d+)$/;

/**
 * The feed's upper bound on transaction ids, as CTEs `snap`, `held`, `locks` and `bound`.
 *
 * The sound bound is the statement snapshot's xmin: every transaction below it has finished, so
 * no event can still appear below it, and a cursor taken from rows under it never skips one.
 * But xmin is cluster-wide: any long write transaction anywhere (another schema, another app)
 * would hold this feed back. So when xmin does hold events back (`held`), the bound is refined to
 * the oldest snapshot transaction that is *relevant*: one that has finished since the snapshot
 * (its events may be invisible to it), or that still runs and holds a lock stronger than a plain
 * read's on this journal's streams or events table. A transaction that still runs without such a
 * lock has not written events, and cannot write any below the bound later: a journal append takes
 * the streams table lock at its first write, before PostgreSQL gives it a transaction id (the
 * reason the stream row must be the unit's first write, and why anything else that writes these
 * tables must also write them first in its transaction). Running transactions and their relation
 * locks come from one `pg_locks` scan, read after the snapshot was taken. `held` compares the
 * newest event's transaction id with xmin: one backward step on the (tx_id, position) index,
 * where an EXISTS over `tx_id >= xmin` scanned the whole table on every page.
 */
function boundCtes(tables: ChronicleTables, params: SqlParameters): string {
  return `WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
    held AS MATERIALIZED (
      SELECT COALESCE((SELECT max(h.tx_id) FROM ${tables.events} h) >= pg_snapshot_xmin(snap.s), false) AS yes FROM snap
    ),
    locks AS MATERIALIZED (
      SELECT l.locktype, l.pid, l.transactionid FROM pg_locks l
      WHERE (SELECT yes FROM held) AND l.pid IS NOT NULL AND (
        l.locktype = 'transactionid'
        OR (l.locktype = 'relation' AND l.mode <> 'AccessShareLock'
          AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
          AND l.relation IN (to_regclass(${params.add(tables.streams)}), to_regclass(${params.add(tables.events)})))
      )
    ),
    bound AS MATERIALIZED (
      SELECT CASE WHEN NOT (SELECT yes FROM held) THEN pg_snapshot_xmin(snap.s) ELSE COALESCE(
        (SELECT min(x.xid) FROM pg_snapshot_xip(snap.s) AS x(xid) WHERE NOT EXISTS (
          SELECT 1 FROM locks t WHERE t.locktype = 'transactionid' AND t.transactionid = xid(x.xid)
            AND NOT EXISTS (SELECT 1 FROM locks r WHERE r.locktype = 'relation' AND r.pid = t.pid))),
        pg_snapshot_xmax(snap.s)) END AS xid
      FROM snap
    )`;
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
  // the row, and the feed reads rows by the thousand.
  eventColumns:
    EVENT_COLUMNS.replace('e.occurred_at', '(extract(epoch FROM e.occurred_at) * 1000)::float8 AS occurred_at') + ', e.tx_id::text AS tx_id',

  cursorAt(row): FeedCursor {
    return `${String(row.tx_id)}:${String(row.position)}`;
  },

  compareCursors(a: FeedCursor, b: FeedCursor): number {
    const [x, y] = [a, b].map((cursor) => {
      const match = CURSOR.exec(cursor);
      if (!match) throw invalidFeedCursor(cursor, '"<transaction id>:<position>"');
      return [BigInt(match[1]!), BigInt(match[2]!)] as const;
    }) as [readonly [bigint, bigint], readonly [bigint, bigint]];
    if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] === y[1] ? 0 : x[1] < y[1] ? -1 : 1;
  },

  feedQuery(tables: ChronicleTables, after: FeedCursor | null, limit: number, bound?: string): SqlStatement {
    const params = new SqlParameters(postgresDialect);
    const ctes = bound === undefined ? `${boundCtes(tables, params)} ` : '';
    const conditions = [bound === undefined ? 'e.tx_id < (SELECT xid FROM bound)' : `e.tx_id < ${params.add(bound)}::xid8`];
    if (after !== null) {
      const match = CURSOR.exec(after);
      if (!match) throw invalidFeedCursor(after, '"<transaction id>:<position>"');
      conditions.unshift(`(e.tx_id, e.position) > (${params.add(match[1])}::xid8, ${params.add(match[2])}::bigint)`);
    }
    // Working the bound out costs more to plan than the page costs to read; a catch-up reads
    // many full pages below one bound, so the bound is handed back for the next page.
    const boundColumn = bound === undefined ? ', (SELECT xid FROM bound)::text AS feed_bound' : '';
    return {
      sql:
        `${ctes}SELECT ${this.eventColumns}${boundColumn} FROM ${tables.events} e ` +
        `WHERE ${conditions.join(' AND ')} ORDER BY e.tx_id, e.position LIMIT ${params.add(limit)}`,
      params: params.values,
    };
  },

  tagCondition(params: SqlParameters, tag: string): string {
    // jsonb containment, served by the GIN (jsonb_path_ops) index on tags.
    return `e.tags @> ${params.add(JSON.stringify([tag]))}::jsonb`;
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
       LEFT JOIN locks t ON t.locktype = 'transactionid' AND t.transactionid = xid(b.xid)
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
