import type { EventQuery, FeedBlocker, FeedCursor } from '@chronicle/core';
import { SqlParameters } from '../dialects/sql-parameters.js';
import { sqliteDialect } from '../dialects/sqlite.dialect.js';
import type { ChronicleTables } from '../table-options.js';
import { EVENT_COLUMNS, type EventRow } from './event-row.js';
import { invalidFeedCursor } from './invalid-feed-cursor.js';
import type { FeedQueryRow, JournalDialect, SqlStatement } from './journal-dialect.js';

/**
 * SQLite: one writer at a time (the write lock within a process, the file lock across
 * processes), and a position is taken inside the writing transaction, so positions are in
 * commit order and the position itself is a gap-free cursor. Nothing ever holds the feed back.
 */
export const sqliteJournalDialect: JournalDialect = {
  sql: sqliteDialect,
  insertReturning: 'position, event_id',
  eventColumns: EVENT_COLUMNS,

  cursorAt(row): FeedCursor {
    return String(row.position);
  },

  compareCursors(a: FeedCursor, b: FeedCursor): number {
    for (const cursor of [a, b]) if (!/^\d+$/.test(cursor)) throw invalidFeedCursor(cursor, 'a position');
    return Number(a) - Number(b);
  },

  feedQuery(tables: ChronicleTables, after: FeedCursor | null, limit: number, _bound?: string, filter?: (params: SqlParameters) => string): SqlStatement {
    const params = new SqlParameters(sqliteDialect);
    const conditions: string[] = [];
    if (after !== null) {
      if (!/^\d+$/.test(after)) throw invalidFeedCursor(after, 'a position');
      conditions.push(`e.position > ${params.add(Number(after))}`);
    }
    if (filter !== undefined) conditions.push(`(${filter(params)})`);
    const condition = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')} `;
    return {
      sql: `SELECT ${this.eventColumns} FROM ${tables.events} e ${condition}ORDER BY e.position LIMIT ${params.add(limit)}`,
      params: params.values,
    };
  },

  feedRows(rows: readonly FeedQueryRow[]): EventRow[] {
    // Positions are this file's own; nothing to check.
    return rows as EventRow[];
  },

  queryCondition(tables: ChronicleTables, params: SqlParameters, query: EventQuery): string {
    // Each tag through the tags side table's (tag, position) key, each type through the type index.
    const eventTags = tables.qualified('event_tags');
    return query
      .map((item) => {
        const parts: string[] = [];
        if (item.types !== undefined && item.types.length > 0) parts.push(`e.type IN (${item.types.map((type) => params.add(type)).join(', ')})`);
        for (const tag of new Set(item.tags ?? [])) parts.push(`e.position IN (SELECT t.position FROM ${eventTags} t WHERE t.tag = ${params.add(tag)})`);
        return parts.length === 0 ? '1' : `(${parts.join(' AND ')})`;
      })
      .join(' OR ');
  },

  knownCursor(tables: ChronicleTables, cursor: FeedCursor): SqlStatement {
    if (!/^\d+$/.test(cursor)) throw invalidFeedCursor(cursor, 'a position');
    // Positions are handed out in commit order and never reused: a known one is at most the head.
    return { sql: `SELECT ? <= COALESCE(max(position), 0) AS known FROM ${tables.events}`, params: [Number(cursor)] };
  },

  firstMatchAfter(tables: ChronicleTables, after: FeedCursor | null, query: EventQuery): SqlStatement {
    const params = new SqlParameters(sqliteDialect);
    // Positional parameters: added in the order they appear in the statement.
    const conditions = after === null ? [] : [`e.position > ${params.add(Number(after))}`];
    conditions.push(`(${this.queryCondition(tables, params, query)})`);
    return {
      sql: `SELECT ${this.eventColumns} FROM ${tables.events} e WHERE ${conditions.join(' AND ')} ORDER BY e.position LIMIT 1`,
      params: params.values,
    };
  },

  feedBlocker(): Promise<FeedBlocker | undefined> {
    return Promise.resolve(undefined);
  },
};
