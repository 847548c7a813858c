import type { EntityManager } from 'typeorm';
import type { ChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { TransactionIdRebaseRefusedError, type UnrebasableCursor } from './transaction-id-rebase-refused.error.js';
import { TransactionIdsAheadError } from './transaction-ids-ahead.error.js';

/**
 * PostgreSQL's FirstNormalTransactionId: no transaction of any cluster is assigned an id below
 * it, so rebased rows at 3, 4, … sort below every id the cluster assigns from now on.
 */
const FIRST_NORMAL_TRANSACTION_ID = 3n;
const CURSOR_PATTERN = '^[0-9]+:[0-9]+$';

/** A stored feed cursor the rebase moved: where it is stored, and its value before and after. */
export interface RebasedCursor extends UnrebasableCursor {
  /** The cursor after the rebase. */
  readonly rebased: string;
}

/** What `TypeOrmJournal.rebaseTransactionIds()` did. */
export interface TransactionIdRebase {
  /** Events whose transaction id was rewritten (0: nothing was ahead of this cluster). */
  readonly events: number;
  /** The stored cursors rewritten with them. */
  readonly cursors: readonly RebasedCursor[];
}

interface StoredCursor extends UnrebasableCursor {
  readonly tx: bigint;
  readonly position: bigint;
}

function compare(a: StoredCursor, b: StoredCursor): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  return a.position === b.position ? 0 : a.position < b.position ? -1 : 1;
}

async function existingTables(manager: EntityManager, names: readonly string[]): Promise<Set<string>> {
  const { rows } = await executeSql<{ name: string }>(
    manager,
    'SELECT n.name FROM unnest($1::text[]) AS n(name) WHERE to_regclass(n.name) IS NOT NULL',
    [names],
  );
  return new Set(rows.map((row) => row.name));
}

/** The `SELECT kind, name, cursor` of the stored feed cursors, over the tables that exist. */
function storedCursorsQuery(tables: ChronicleTables, existing: ReadonlySet<string>): string | undefined {
  const parts: string[] = [];
  if (existing.has(tables.checkpoints)) {
    parts.push(`SELECT 'checkpoint' AS kind, name, position AS cursor FROM ${tables.checkpoints} WHERE position ~ '${CURSOR_PATTERN}'`);
  }
  if (existing.has(tables.outboxHandlers)) {
    parts.push(
      `SELECT 'outbox handler' AS kind, handler AS name, backfill_cursor AS cursor FROM ${tables.outboxHandlers} ` +
        `WHERE backfill_cursor ~ '${CURSOR_PATTERN}'`,
    );
  }
  return parts.length === 0 ? undefined : parts.join(' UNION ALL ');
}

function describe(cursor: UnrebasableCursor): string {
  return `${cursor.kind} "${cursor.name}" at ${cursor.cursor}`;
}

/**
 * Throws {@link TransactionIdsAheadError} when the journal's newest event, or a stored feed cursor
 * (a subscription checkpoint, an outbox backfill), carries a transaction id at or past the current
 * snapshot's xmax: no transaction of this cluster can have written it. Reading xmax assigns no
 * transaction id. Tables that do not exist (yet) are skipped, so migrations can call it.
 */
export async function checkTransactionIds(manager: EntityManager, tables: ChronicleTables): Promise<void> {
  const existing = await existingTables(manager, [tables.events, tables.checkpoints, tables.outboxHandlers]);
  const cursors = storedCursorsQuery(tables, existing);
  const newest = existing.has(tables.events)
    ? `(SELECT max(e.tx_id) FROM ${tables.events} e WHERE e.tx_id >= snap.xmax)::text`
    : 'NULL::text';
  const cursor = cursors
    ? `LEFT JOIN LATERAL (SELECT c.kind, c.name, c.cursor FROM (${cursors}) c ` +
      `WHERE split_part(c.cursor, ':', 1)::numeric >= snap.xmax::text::numeric ORDER BY c.kind, c.name LIMIT 1) c ON true`
    : `LEFT JOIN (SELECT NULL::text AS kind, NULL::text AS name, NULL::text AS cursor) c ON false`;
  const { rows } = await executeSql<{ xmax: string; newest: string | null; kind: string | null; name: string | null; cursor: string | null }>(
    manager,
    `WITH snap AS (SELECT pg_snapshot_xmax(pg_current_snapshot()) AS xmax) ` +
      `SELECT snap.xmax::text AS xmax, ${newest} AS newest, c.kind, c.name, c.cursor FROM snap ${cursor}`,
  );
  const row = rows[0];
  if (!row) return;
  if (row.newest !== null) throw new TransactionIdsAheadError("The journal's newest event", row.newest, row.xmax);
  if (row.cursor !== null) {
    throw new TransactionIdsAheadError(`The stored feed cursor ${row.cursor} of ${row.kind ?? ''} "${row.name ?? ''}"`, row.cursor.split(':')[0]!, row.xmax);
  }
}

/**
 * Rewrites the transaction ids of a journal restored from another cluster (see
 * `TypeOrmJournal.rebaseTransactionIds`), in the caller's transaction. Every step reads and writes
 * under `SHARE ROW EXCLUSIVE` locks on the streams, events, checkpoints and outbox handler tables:
 * appends and checkpoint moves (row-exclusive writers all) wait until the transaction ends.
 *
 * Which events are restored: every event at or below the highest position carried by an event
 * whose transaction id is ahead of this cluster (identity values are restored with the rows, so
 * an event appended here after the restore has a higher position). Events above it were appended
 * on this cluster, keep their ids, and stay after the restored ones.
 *
 * The restored events keep their order, (old transaction id, position), as far as a stored cursor
 * can tell: the cursors cut that order into segments, segment i is rewritten to transaction id
 * 3 + i, and inside a segment the order falls back to position (a commit-safe order, since all of
 * them committed; per stream, versions were written in position order under the stream's row
 * lock). A cursor at the end of segment i becomes (3 + i, the segment's highest position) and
 * covers exactly the events it covered before. A single constant id would not do: positions are
 * taken before commit, so the set (old id, position) ≤ a cursor is not always a position prefix.
 *
 * What each cursor covers afterwards: a cursor ahead of this cluster was restored with the
 * events and never moved since (the feed had nothing to give it), so it covers the restored events
 * it covered; appends since the restore are after it, delivered next. A cursor this cluster could
 * have written (its id is below xmax) is kept in the same way only if no event appended here lies
 * at or below it; otherwise its subscription mixed restored and new events in an order that no
 * longer holds, and the rebase refuses, naming it.
 */
export async function rebaseTransactionIds(manager: EntityManager, tables: ChronicleTables): Promise<TransactionIdRebase> {
  const existing = await existingTables(manager, [tables.checkpoints, tables.outboxHandlers]);
  const locked = [tables.streams, tables.events, ...[tables.checkpoints, tables.outboxHandlers].filter((table) => existing.has(table))];
  await executeSql(manager, `LOCK TABLE ${locked.join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
  // LOCK assigns no transaction id: xmax is past every id this cluster has assigned, ours included.
  const { rows: snapshot } = await executeSql<{ xmin: string; xmax: string }>(
    manager,
    'SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax FROM pg_current_snapshot() AS s',
  );
  const xmin = BigInt(snapshot[0]!.xmin);
  const xmax = BigInt(snapshot[0]!.xmax);
  const { rows: restored } = await executeSql<{ up_to: string | null }>(
    manager,
    `SELECT max(position)::text AS up_to FROM ${tables.events} WHERE tx_id >= $1::xid8`,
    [String(xmax)],
  );
  const upTo = restored[0]?.up_to ?? null;

  const cursorsSql = storedCursorsQuery(tables, existing);
  const stored: StoredCursor[] = cursorsSql
    ? (await executeSql<UnrebasableCursor>(manager, `${cursorsSql} ORDER BY kind, name`)).rows.map((row) => {
        const [tx, position] = row.cursor.split(':') as [string, string];
        return { kind: row.kind, name: row.name, cursor: row.cursor, tx: BigInt(tx), position: BigInt(position) };
      })
    : [];
  const ahead = stored.filter((cursor) => cursor.tx >= xmax);

  if (upTo === null) {
    if (ahead.length === 0) return { events: 0, cursors: [] };
    throw new TransactionIdRebaseRefusedError(
      `no event of the journal is ahead of this cluster (transaction ids below ${xmax}), but ${ahead.map(describe).join(', ')} ` +
        'is: the cursors were restored without the events they were taken from. Restore the events with them, or reset those ' +
        'subscriptions (delete their checkpoints and rebuild what they feed).',
      ahead.map(({ kind, name, cursor }) => ({ kind, name, cursor })),
    );
  }

  // A cursor written on this cluster after the restore covers events appended here, which now go
  // after the restored ones: its subscription saw them in an order the rebase cannot keep.
  const mixed: StoredCursor[] = [];
  for (const cursor of stored) {
    if (cursor.tx >= xmax) continue;
    const { rows } = await executeSql<{ yes: boolean }>(
      manager,
      `SELECT EXISTS (SELECT 1 FROM ${tables.events} WHERE position > $1::bigint AND (tx_id, position) <= ($2::xid8, $3::bigint)) AS yes`,
      [upTo, String(cursor.tx), String(cursor.position)],
    );
    if (rows[0]?.yes) mixed.push(cursor);
  }
  if (mixed.length > 0) {
    throw new TransactionIdRebaseRefusedError(
      `${mixed.map(describe).join(', ')} covered events appended on this cluster after the restore, read before the restored ` +
        'events it had not reached; no order of the rebased journal matches what it saw. Reset those subscriptions (delete their ' +
        'checkpoints and rebuild what they feed), then run the rebase again.',
      mixed.map(({ kind, name, cursor }) => ({ kind, name, cursor })),
    );
  }

  const boundaries: StoredCursor[] = [];
  for (const cursor of [...stored].sort(compare)) {
    if (boundaries.length === 0 || compare(boundaries[boundaries.length - 1]!, cursor) !== 0) boundaries.push(cursor);
  }
  const { rows: later } = await executeSql<{ first: string | null }>(
    manager,
    `SELECT min(tx_id)::text AS first FROM ${tables.events} WHERE position > $1::bigint`,
    [upTo],
  );
  const highest = FIRST_NORMAL_TRANSACTION_ID + BigInt(boundaries.length);
  const room = later[0]?.first ? (BigInt(later[0].first) < xmin ? BigInt(later[0].first) : xmin) : xmin;
  if (highest >= room) {
    throw new TransactionIdRebaseRefusedError(
      `the rebased order needs transaction ids ${FIRST_NORMAL_TRANSACTION_ID} to ${highest} (one per distinct stored cursor, ` +
        `${boundaries.length}), all below the oldest id still in use on this cluster (${room}). Retry when no old transaction ` +
        'is open on the cluster, or reset some subscriptions (delete their checkpoints) to need fewer ids.',
    );
  }

  const { rows: rewritten } = await executeSql<{ n: number }>(
    manager,
    `WITH rebased AS (UPDATE ${tables.events} e SET tx_id = ($1::int8 + (SELECT count(*) FROM unnest($2::text[]::xid8[], $3::int8[]) ` +
      `AS b(tx, position) WHERE (b.tx, b.position) < (e.tx_id, e.position)))::text::xid8 WHERE e.position <= $4::bigint RETURNING 1) ` +
      'SELECT count(*)::int AS n FROM rebased',
    [String(FIRST_NORMAL_TRANSACTION_ID), boundaries.map((b) => String(b.tx)), boundaries.map((b) => String(b.position)), upTo],
  );

  const moved = new Map<string, string>();
  for (const [index, boundary] of boundaries.entries()) {
    const tx = FIRST_NORMAL_TRANSACTION_ID + BigInt(index);
    const { rows } = await executeSql<{ last: string | null }>(
      manager,
      `SELECT max(position)::text AS last FROM ${tables.events} WHERE tx_id = $1::xid8 AND position <= $2::bigint`,
      [String(tx), upTo],
    );
    // An empty segment: (3 + i, 0) covers the segments before it and nothing of its own.
    moved.set(`${boundary.tx}:${boundary.position}`, `${tx}:${rows[0]?.last ?? '0'}`);
  }
  const cursors: RebasedCursor[] = [];
  for (const cursor of stored) {
    const rebased = moved.get(`${cursor.tx}:${cursor.position}`)!;
    const [table, column, key] =
      cursor.kind === 'checkpoint' ? [tables.checkpoints, 'position', 'name'] : [tables.outboxHandlers, 'backfill_cursor', 'handler'];
    await executeSql(manager, `UPDATE ${table} SET ${column} = $1 WHERE ${key} = $2 AND ${column} = $3`, [rebased, cursor.name, cursor.cursor]);
    cursors.push({ kind: cursor.kind, name: cursor.name, cursor: cursor.cursor, rebased });
  }
  return { events: rewritten[0]?.n ?? 0, cursors };
}
