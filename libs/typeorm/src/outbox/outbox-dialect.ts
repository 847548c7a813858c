import type { EntityManager } from 'typeorm';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import type { SqlStatement } from '../journal/journal-dialect.js';
import type { ChronicleTables } from '../table-options.js';

/** What one claim asks for; every time comes from the store's clock. */
export interface OutboxClaimRequest {
  handler: string;
  owner: string;
  now: Date;
  leaseUntil: Date;
  limit: number;
  /** The aggregate the previous claim of this store ended with: this one starts after it ('' at first). */
  cursor: string;
}

/**
 * The outbox statements whose shape differs between PostgreSQL and SQLite: the claim, the
 * fenced updates (row lock order), and the wake-up after a unit of work wrote entries.
 */
export interface OutboxDialect {
  readonly sql: SqlDialect;
  /**
   * The claim as one statement: it takes the leases and returns the claimed rows
   * ({@link OUTBOX_COLUMNS}), in no particular order.
   */
  claim(tables: ChronicleTables, request: OutboxClaimRequest): SqlStatement;
  /**
   * An UPDATE of the outbox rows matching `where` (and, when `ids` is given, whose id is one of
   * them), returning their ids. `build` adds the SET parameters before the WHERE ones (SQLite
   * binds by position) and returns the clauses; they name columns unqualified. `ids` is the list
   * as the dialect takes it: a `uuid[]` parameter on PostgreSQL, a parenthesized list of
   * placeholders on SQLite.
   */
  updateWhere(tables: ChronicleTables, build: () => { set: string; where: string; ids?: string }): string;
  /**
   * Tells listeners that entries were written (PostgreSQL NOTIFY, sent at commit, with the unit's
   * `origin` as payload, '' for none); a no-op on SQLite.
   */
  notify(manager: EntityManager, channel: string, origin?: string): Promise<void>;
}
