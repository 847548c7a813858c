import type { FeedBlocker, FeedCursor } from '@chronicle/core';
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

  feedQuery(tables: ChronicleTables, after: FeedCursor | null, limit: number): SqlStatement {
    const params = new SqlParameters(sqliteDialect);
    let condition = '';
    if (after !== null) {
      if (!/^\d+$/.test(after)) throw invalidFeedCursor(after, 'a position');
      condition = `WHERE e.position > ${params.add(Number(after))} `;
    }
    return {
      sql: `SELECT ${this.eventColumns} FROM ${tables.events} e ${condition}ORDER BY e.position LIMIT ${params.add(limit)}`,
      params: params.values,
    };
  },

  feedRows(rows: readonly FeedQueryRow[]): EventRow[] {
    // Positions are this file's own; nothing to check.
    return rows as EventRow[];
  },

  tagCondition(params: SqlParameters, tag: string): string {
    return `EXISTS (SELECT 1 FROM json_each(e.tags) t WHERE t.value = ${params.add(tag)})`;
  },

  feedBlocker(): Promise<FeedBlocker | undefined> {
    return Promise.resolve(undefined);
  },
};
