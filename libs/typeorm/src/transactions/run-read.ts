import type { DataSource, EntityManager } from 'typeorm';
import { dialectOf } from '../dialects/dialect-of.js';
import { sqliteWriteLock } from './sqlite-write-lock.js';

/**
 * Runs read-only `work` outside any transaction, with an EntityManager bound to one connection.
 *
 * On SQLite it takes the DataSource's {@link sqliteWriteLock}: the one shared connection may be
 * inside another caller's open transaction, and a read there would see rows that can still roll
 * back. On PostgreSQL it borrows a pooled connection for the duration.
 */
export async function runRead<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const read = async (): Promise<T> => {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      return await work(runner.manager);
    } finally {
      await runner.release();
    }
  };
  return dialectOf(dataSource).name === 'sqlite' ? sqliteWriteLock(dataSource).runExclusive(read) : read();
}
