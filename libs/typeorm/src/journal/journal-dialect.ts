import type { EntityManager } from 'typeorm';
import type { EventQuery, FeedBlocker, FeedCursor } from '@chronicle/core';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import type { SqlParameters } from '../dialects/sql-parameters.js';
import type { ChronicleTables } from '../table-options.js';
import type { EventRow } from './event-row.js';

/** A statement and its parameters. */
export interface SqlStatement {
  sql: string;
  params: unknown[];
}

/** A row of a feed query: an event, or (PostgreSQL) only the columns of its checks, when the page is empty. */
export type FeedQueryRow = Omit<EventRow, 'position'> & {
  /** Null on the one row of an empty page. */
  position: unknown;
  /** PostgreSQL: the bound the page was read below, for the next page. */
  feed_bound?: string;
  /** PostgreSQL: the snapshot's xmax, when the statement checked the journal's transaction ids. */
  feed_xmax?: string | null;
  /** PostgreSQL: the journal's newest transaction id, when it is at or past xmax. */
  feed_newest_ahead?: string | null;
  /** PostgreSQL: whether the cursor's transaction id is at or past xmax. */
  feed_cursor_ahead?: boolean | null;
  /** PostgreSQL, a filtered read after a cursor: whether the journal handed that cursor out (see `knownCursor`). */
  feed_known_after?: boolean | null;
  /**
   * PostgreSQL: the bound was held back by a transaction that has finished since the snapshot,
   * so a fresh read may return more than this page did.
   */
  feed_bound_finished?: boolean | null;
};

/**
 * The journal statements whose shape differs between PostgreSQL and SQLite: the global feed and
 * its cursor, what the events insert returns, the filter by type and tag and the feed blocker.
 */
export interface JournalDialect {
  readonly sql: SqlDialect;
  /** The RETURNING list of the events insert: at least `position` and `event_id`. */
  readonly insertReturning: string;
  /**
   * The select list of every event read (alias `e`), in the shape `EventRow` names: the stored
   * columns, and what {@link cursorAt} needs.
   */
  readonly eventColumns: string;
  /** The feed cursor at an inserted or read row (`position`, and on PostgreSQL `tx_id`). */
  cursorAt(row: { position: unknown; tx_id?: unknown }): FeedCursor;
  /** Orders two cursors (negative, 0, positive); throws for a cursor of another journal. */
  compareCursors(a: FeedCursor, b: FeedCursor): number;
  /**
   * The next feed page after a cursor (null: from the start), oldest first. With `bound` (a value
   * an earlier page returned in `feed_bound`), the page is read below that bound without working
   * it out again: sound, because the bound only ever moves forward.
   */
  feedQuery(tables: ChronicleTables, after: FeedCursor | null, limit: number, bound?: string, filter?: (params: SqlParameters) => string): SqlStatement;
  /**
   * The events of a page {@link feedQuery} returned, after its checks: throws when they found the
   * journal or the cursor ahead of the database (PostgreSQL: `TransactionIdsAheadError`).
   */
  feedRows(rows: readonly FeedQueryRow[], after: FeedCursor | null): EventRow[];
  /**
   * A condition on the events alias `e` that holds when the event matches `query` (checked
   * already), written so that an index serves it: on PostgreSQL the type index and the GIN index on
   * tags, on SQLite the type index and the tags side table.
   */
  queryCondition(tables: ChronicleTables, params: SqlParameters, query: EventQuery): string;
  /**
   * One row `{ known }`: whether `cursor` is one this journal handed out (an event's, or on
   * PostgreSQL the cursor below a feed bound, `<xid8>:<largest position>`, below the snapshot's xmax). Throws for a malformed one.
   */
  knownCursor(tables: ChronicleTables, cursor: FeedCursor): SqlStatement;
  /**
   * A boolean expression that holds when `after` is a cursor this journal handed out and no event
   * matching `query` follows it (the whole condition of a conditional append, for one statement).
   * PostgreSQL only: on SQLite a unit is a transaction under the write lock anyway.
   */
  conditionHolds?(tables: ChronicleTables, params: SqlParameters, after: FeedCursor | null, query: EventQuery): string;
  /**
   * The same expression as `conditionHolds`, written for a prepared statement's generic plan (one
   * plan for every value): its text depends on the shape of `query` and `after` only. Undefined
   * when no such plan is safe for every value (the expression is then planned with its values).
   * PostgreSQL only.
   */
  conditionHoldsForGenericPlan?(tables: ChronicleTables, params: SqlParameters, after: FeedCursor | null, query: EventQuery): string | undefined;
  /** The first event (feed order) matching `query` after `after`, as event rows (at most one). */
  firstMatchAfter(tables: ChronicleTables, after: FeedCursor | null, query: EventQuery): SqlStatement;
  /** The transaction holding the feed back, if any. */
  feedBlocker(manager: EntityManager, tables: ChronicleTables): Promise<FeedBlocker | undefined>;
}
