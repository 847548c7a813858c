import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { dialectOf } from '../dialects/dialect-of.js';
import { executeSql } from './execute-sql.js';
import { commitOrRollBack } from './commit-or-roll-back.js';
import { runInTransaction } from './run-in-transaction.js';
import { runSimpleQueryString, type SimpleQueryClient } from './run-simple-query-string.js';

/** What TypeORM's PostgreSQL query runner keeps of an open transaction (`BaseQueryRunner`, typeorm 1.x). */
interface TransactionState {
  isTransactionActive: boolean;
  transactionDepth?: unknown;
}

/** The isolation levels PostgreSQL's `START TRANSACTION` takes, as TypeORM spells them. */
const ISOLATION_LEVELS: ReadonlySet<string> = new Set(['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE']);

/**
 * {@link runInTransaction} whose transaction begins with `first`, a statement WITHOUT parameters
 * (its values written in as literals, see `InlineSqlParameters`), whose rows `work` receives.
 *
 * PostgreSQL: `START TRANSACTION; <first>` go as ONE simple-protocol query string (node-postgres
 * sends a query without parameters as a simple Query message; the server runs its statements in
 * order, in the transaction the first one opened), so the transaction costs one round trip less
 * than BEGIN, then the statement. The TypeORM query runner is then marked as inside that
 * transaction, as its own `startTransaction` leaves it (the same transaction events are broadcast),
 * so `work`'s manager, savepoints (`startTransaction` inside it) and the COMMIT behave as usual.
 * When `first` fails, the server skips the rest of the string and the transaction block is
 * aborted: ROLLBACK ends it and the error goes to the caller as a `QueryFailedError`.
 * The DataSource's isolation level is stated in the `START TRANSACTION`, as TypeORM would set it.
 *
 * SQLite, and a query runner that does not look like typeorm 1.x's: `runInTransaction`, then
 * `first` as a statement of its own.
 */
export async function runInTransactionOpenedBy<Row, T>(
  dataSource: DataSource,
  first: string,
  work: (manager: EntityManager, rows: Row[]) => Promise<T>,
): Promise<T> {
  const separately = async (manager: EntityManager): Promise<T> => work(manager, (await executeSql<Row>(manager, first)).rows);
  const isolation = (dataSource.options as { isolationLevel?: string }).isolationLevel;
  if (dialectOf(dataSource).name !== 'postgres' || (isolation !== undefined && !ISOLATION_LEVELS.has(isolation))) {
    // An unknown isolation level fails in TypeORM's startTransaction, with its own message.
    return runInTransaction(dataSource, separately);
  }
  const runner: QueryRunner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as SimpleQueryClient;
    const state = runner as unknown as TransactionState;
    if (state.isTransactionActive || state.transactionDepth !== 0) {
      // Not the query runner this was written against: its own transaction methods, one more round trip.
      await runner.startTransaction();
      return await commitOrRollBack(runner, () => separately(runner.manager));
    }
    // As TypeORM's startTransaction: active before the event, inactive again when it throws.
    state.isTransactionActive = true;
    let rows: Row[];
    try {
      await runner.broadcaster.broadcast('BeforeTransactionStart');
      const text = `START TRANSACTION${isolation ? ` ISOLATION LEVEL ${isolation}` : ''};\n${first}`;
      const results = await runSimpleQueryString(dataSource, runner, client, text);
      if (results.length !== 2) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`Expected 2 results from START TRANSACTION and the first statement, got ${results.length}: pass one statement`);
      }
      rows = results[1]!.rows as Row[];
    } catch (error) {
      state.isTransactionActive = false;
      throw error;
    }
    state.transactionDepth = 1;
    return await commitOrRollBack(runner, async () => {
      await runner.broadcaster.broadcast('AfterTransactionStart');
      return work(runner.manager, rows);
    });
  } finally {
    await runner.release();
  }
}
