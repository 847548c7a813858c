import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { dialectOf } from '../dialects/dialect-of.js';
import { sqliteWriteLock } from './sqlite-write-lock.js';
import { commitOrRollBack } from './commit-or-roll-back.js';

/**
 * Runs `work` in one database transaction and commits it, or rolls it back and rethrows when
 * `work` (or the commit) throws. Every Chronicle adapter writes through this.
 *
 * PostgreSQL: a dedicated QueryRunner (one pooled connection) at the DataSource's isolation
 * level (READ COMMITTED unless configured otherwise).
 * SQLite: the same, under the DataSource's {@link sqliteWriteLock}, because all callers share one
 * connection. Do not call another Chronicle operation from inside `work` and await it: on SQLite
 * it would wait for the lock `work` holds. Use the EntityManager you are given instead.
 *
 * On SQLite the transaction starts DEFERRED (TypeORM's `BEGIN`); keep a write as its first
 * statement when another process may use the same file, so SQLite waits for the file lock
 * (busy timeout) instead of failing a read-then-write upgrade with SQLITE_BUSY.
 */
export async function runInTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (dialectOf(dataSource).name === 'sqlite') {
    return sqliteWriteLock(dataSource).runExclusive(() => transact(dataSource, work));
  }
  return transact(dataSource, work);
}

async function transact<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const runner: QueryRunner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.startTransaction();
    return await commitOrRollBack(runner, () => work(runner.manager));
  } finally {
    await runner.release();
  }
}
