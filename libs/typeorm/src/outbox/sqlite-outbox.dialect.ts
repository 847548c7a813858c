import { SqlParameters } from '../dialects/sql-parameters.js';
import { sqliteDialect } from '../dialects/sqlite.dialect.js';
import type { SqlStatement } from '../journal/journal-dialect.js';
import type { ChronicleTables } from '../table-options.js';
import type { OutboxClaimRequest, OutboxDialect } from './outbox-dialect.js';
import { OUTBOX_COLUMNS } from './outbox-row.js';

/**
 * The claim on SQLite: the same rules as on PostgreSQL in one UPDATE … RETURNING, which is also
 * the transaction's first statement (a write, so SQLite takes the file's write lock up front).
 * There is no SKIP LOCKED and no need for it: every Chronicle transaction on a file runs under
 * the write lock (one writer in a process, SQLite's file lock across processes), so nothing can
 * change between choosing the entries and leasing them.
 *
 * Per aggregate, `pending` ranks the unpublished entries by version and `unbroken` keeps the
 * eligible prefix (head first); `heads` takes up to `limit` aggregates whose head is eligible,
 * starting after the previous claim's last aggregate and wrapping round; the runs are filled
 * breadth-first up to `limit`. Text compares in BINARY collation, i.e. code-point order.
 */
function claimStatement(tables: ChronicleTables, request: OutboxClaimRequest): SqlStatement {
  const params = new SqlParameters(sqliteDialect);
  const t = tables.outbox;
  // Placeholders are positional: each is added where it appears in the text.
  const sql = `UPDATE ${t}
    SET lease_owner = ${params.add(request.owner)}, lease_until = ${params.add(sqliteDialect.encodeTimestamp(request.leaseUntil))}
    WHERE id IN (
      WITH pending AS (
        SELECT id, stream_id, version,
          row_number() OVER (PARTITION BY stream_id ORDER BY version) AS rank,
          CASE WHEN dead_lettered_at IS NULL AND next_attempt_at <= ${params.add(sqliteDialect.encodeTimestamp(request.now))}
            AND (lease_until IS NULL OR lease_until <= ${params.add(sqliteDialect.encodeTimestamp(request.now))}) THEN 1 ELSE 0 END AS eligible
        FROM ${t}
        WHERE handler = ${params.add(request.handler)} AND published_at IS NULL
          AND EXISTS (SELECT 1 FROM ${tables.outboxHandlers} r WHERE r.handler = ${params.add(request.handler)} AND r.ready_at IS NOT NULL)
      ),
      unbroken AS (
        SELECT id, stream_id, version, rank,
          min(eligible) OVER (PARTITION BY stream_id ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS ok
        FROM pending
      ),
      heads AS (
        SELECT stream_id, CASE WHEN stream_id > ${params.add(request.cursor)} THEN 0 ELSE 1 END AS lap
        FROM unbroken WHERE rank = 1 AND ok = 1
        ORDER BY lap, stream_id LIMIT ${params.add(request.limit)}
      )
      SELECT u.id FROM unbroken u JOIN heads h ON h.stream_id = u.stream_id
      WHERE u.ok = 1
      ORDER BY u.rank, h.lap, u.stream_id LIMIT ${params.add(request.limit)}
    )
    RETURNING ${OUTBOX_COLUMNS}`;
  return { sql, params: params.values };
}

/** SQLite: the claim above; plain fenced updates (the write lock serialises them); no wake-up. */
export const sqliteOutboxDialect: OutboxDialect = {
  sql: sqliteDialect,

  claim: claimStatement,

  updateWhere(tables, build): string {
    const { set, where, ids } = build();
    return `UPDATE ${tables.outbox} SET ${set} WHERE ${where}${ids === undefined ? '' : ` AND id IN ${ids}`} RETURNING id`;
  },

  notify(): Promise<void> {
    return Promise.resolve();
  },
};
