import { ChronicleError } from '@chronicle/core';

/** A stored feed cursor the transaction id rebase cannot carry over, and where it is stored. */
export interface UnrebasableCursor {
  /** `checkpoint` (a subscription's position) or `outbox handler` (a backfill's cursor). */
  readonly kind: 'checkpoint' | 'outbox handler';
  /** The checkpoint's or outbox handler's name. */
  readonly name: string;
  /** The stored cursor. */
  readonly cursor: string;
}

/**
 * `TypeOrmJournal.rebaseTransactionIds()` refused, writing nothing: some stored cursors name a set
 * of events the rebased order cannot express, or the cluster has too few transaction ids below
 * its oldest running one to hold the rebased order. The message says which and what to do.
 */
export class TransactionIdRebaseRefusedError extends ChronicleError {
  constructor(
    message: string,
    /** The cursors that cannot be carried over (empty when the refusal is about the cluster). */
    readonly cursors: readonly UnrebasableCursor[] = [],
  ) {
    super(`Transaction id rebase refused, nothing was written: ${message}`);
  }
}
