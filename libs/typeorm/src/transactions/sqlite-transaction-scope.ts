import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from 'typeorm';
import type { AsyncMutex } from './async-mutex.js';

/** The SQLite transaction the current async context runs inside (set by `runInTransaction`). */
export interface SqliteTransactionScope {
  lock: AsyncMutex;
  manager: EntityManager | undefined;
  /** False once the transaction has ended (work it started without awaiting may outlive it). */
  active: boolean;
}

/**
 * Which SQLite transaction holds the write lock in this async context. Reads that must not wait
 * for that lock from inside it (the data keys a projection rebuild needs while its transaction
 * holds the one shared connection) run on the transaction's own EntityManager instead of
 * deadlocking on the non-re-entrant lock.
 */
export const sqliteTransactionScope = new AsyncLocalStorage<SqliteTransactionScope>();
