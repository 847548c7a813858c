import { ChronicleError } from '@chronicle/core';

/**
 * PostgreSQL: the journal carries transaction ids this cluster has not assigned yet. Transaction
 * ids belong to a cluster; a journal restored into another one (pg_dump and restore for a move or
 * a major upgrade, logical replication) keeps the ids of the old cluster, which may be ahead of
 * the new cluster's counter. Its new appends would then sort below every stored cursor and be
 * skipped, and the restored events would stay hidden from the feed until the counter passed
 * them, so the feed refuses to read instead (`pg_upgrade` keeps the counter, and is not affected).
 * Stop every instance and run `TypeOrmJournal.rebaseTransactionIds()` once.
 */
export class TransactionIdsAheadError extends ChronicleError {
  constructor(
    /** What is ahead: the journal's newest event, or a feed cursor (a subscription's, or one passed to a read). */
    readonly subject: string,
    /** The transaction id found (text; xid8). */
    readonly transactionId: string,
    /** The first transaction id this cluster has not assigned yet (text; xid8). */
    readonly nextTransactionId: string,
  ) {
    super(
      `${subject} carries transaction id ${transactionId}, but this PostgreSQL cluster has assigned ids only below ${nextTransactionId}: ` +
        'the journal was restored from another cluster (pg_dump and restore, logical replication), whose transaction ids it keeps. ' +
        'The feed would skip new events and hide restored ones, so it refuses to read. Stop every instance of the application, ' +
        'then run TypeOrmJournal.rebaseTransactionIds() once; it rewrites the stored transaction ids and subscription cursors ' +
        'to ids of this cluster.',
    );
  }
}
