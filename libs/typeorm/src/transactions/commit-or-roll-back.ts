import type { QueryRunner } from 'typeorm';

/**
 * Runs `work` in the transaction open on `runner` and commits it; when `work` or the COMMIT
 * throws, rolls the transaction back (while it is still active) and rethrows the original error.
 */
export async function commitOrRollBack<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    await runner.commitTransaction();
    return result;
  } catch (error) {
    if (runner.isTransactionActive) {
      // The original error is what the caller needs; a failed rollback ends with the connection.
      await runner.rollbackTransaction().catch(() => undefined);
    }
    throw error;
  }
}
