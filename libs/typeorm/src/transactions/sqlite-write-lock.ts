import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { AsyncMutex } from './async-mutex.js';

const byDataSource = new WeakMap<DataSource, AsyncMutex>();
const byFile = new Map<string, AsyncMutex>();

/** The database file a better-sqlite3 DataSource opened, or undefined for a private in-memory one. */
function databaseFile(dataSource: DataSource): string | undefined {
  const database = (dataSource.options as { database?: unknown }).database;
  if (typeof database !== 'string' || database === '' || database === ':memory:') return undefined;
  if (database.startsWith('file:')) return database;
  const path = resolve(database);
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * The one lock that serialises Chronicle's work on a better-sqlite3 database within this process.
 *
 * TypeORM's better-sqlite3 driver hands every caller the same connection and the same
 * QueryRunner, so two transactions started at once would run their statements inside one
 * SQLite transaction, and a read issued while a transaction is open would see (and act on)
 * rows that may still roll back. Every library transaction and every library read on SQLite
 * therefore runs under this lock. SQLite has a single writer anyway, so nothing is lost.
 *
 * The lock belongs to the database file, not only to the DataSource: better-sqlite3 waits for
 * SQLite's file lock synchronously, blocking the event loop, so a second DataSource on the same
 * file in the same process would freeze the very transaction it waits for until its busy timeout
 * fails it. Other processes are serialised by SQLite's file lock and their own busy timeout.
 * A private `:memory:` database has its own lock per DataSource (kept in a WeakMap).
 */
export function sqliteWriteLock(dataSource: DataSource): AsyncMutex {
  let lock = byDataSource.get(dataSource);
  if (lock) return lock;
  const file = databaseFile(dataSource);
  lock = (file === undefined ? undefined : byFile.get(file)) ?? new AsyncMutex();
  if (file !== undefined) byFile.set(file, lock);
  byDataSource.set(dataSource, lock);
  return lock;
}
