import type { DataSource, EntityManager } from 'typeorm';
import { ChronicleError, systemClock } from '@chronicle/core';
import type { Clock } from '@chronicle/core';
import { dialectOf } from '../dialects/dialect-of.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { resolveChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { runInTransaction } from '../transactions/run-in-transaction.js';

/** Options of {@link TypeOrmInbox}. */
export interface TypeOrmInboxOptions extends ChronicleTableOptions {
  /** Time source of the processed-at timestamps (what `prune` compares). @default systemClock */
  clock?: Clock;
}

/** What {@link TypeOrmInbox.process} did with a message. */
export interface InboxOutcome<T> {
  /** False when the message had been processed before: the work did not run. */
  processed: boolean;
  /** What the work returned, when it ran. */
  result?: T;
}

function invalidRequest(reason: string): ChronicleError {
  return new ChronicleError(`Inbox request is invalid: ${reason}. Nothing was recorded.`, { code: 'InvalidInboxRequest' });
}

/**
 * Exactly-once processing for consumers of at-least-once messages (the outbox's, a broker's):
 * `<prefix>inbox` records each (consumer, message id) in the same transaction as the consumer's
 * own writes. A redelivered message finds its id recorded and its work is skipped; work that
 * throws rolls back with its mark, so the message is processed again on the next delivery.
 *
 * Concurrent deliveries of one message are safe: on PostgreSQL the second insert of the key
 * waits for the first transaction and, if that one commits, skips; on SQLite transactions run
 * one at a time. Publish the outbox entry id as the message id.
 */
export class TypeOrmInbox {
  private readonly sql: SqlDialect;
  private readonly tables: ChronicleTables;
  private readonly clock: Clock;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmInboxOptions = {},
  ) {
    this.sql = dialectOf(dataSource);
    this.tables = resolveChronicleTables(options, this.sql);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * In one transaction: records the message for the consumer and, if it was not recorded
   * already, runs `work` with the transaction's EntityManager (write through it, so the work
   * commits or rolls back with the mark). Returns whether the work ran and what it returned;
   * rethrows what `work` throws, recording nothing.
   *
   * On SQLite `work` runs under Chronicle's write lock: it must not await another Chronicle
   * operation (see `runInTransaction`).
   */
  async process<T>(consumer: string, messageId: string, work: (manager: EntityManager) => Promise<T>): Promise<InboxOutcome<T>> {
    checkKey(consumer, messageId);
    return runInTransaction(this.dataSource, async (manager) => {
      // The mark first: it is the transaction's first write and the duplicate check in one.
      if (!(await this.insertMark(manager, consumer, messageId))) return { processed: false };
      return { processed: true, result: await work(manager) };
    });
  }

  /**
   * Records the message inside a transaction the caller runs (`manager` must belong to it);
   * returns false when it was recorded already, and the caller should then skip its work. The
   * mark commits or rolls back with the caller's transaction. On SQLite open that transaction
   * with `runInTransaction(dataSource, …)`, so it takes Chronicle's write lock like every other.
   */
  async markProcessed(manager: EntityManager, consumer: string, messageId: string): Promise<boolean> {
    checkKey(consumer, messageId);
    if (!manager.queryRunner?.isTransactionActive) {
      throw invalidRequest('markProcessed needs the EntityManager of an open transaction (manager.transaction(...) or a QueryRunner)');
    }
    return this.insertMark(manager, consumer, messageId);
  }

  /** Deletes the marks of messages processed before `before`; returns how many. */
  async prune(before: Date): Promise<number> {
    if (!(before instanceof Date) || Number.isNaN(before.getTime())) throw invalidRequest(`before must be a valid Date, got ${String(before)}`);
    return runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      const { affected } = await executeSql(
        manager,
        `DELETE FROM ${this.tables.inbox} WHERE processed_at < ${params.add(this.sql.encodeTimestamp(before))}`,
        params.values,
      );
      return affected ?? 0;
    });
  }

  private async insertMark(manager: EntityManager, consumer: string, messageId: string): Promise<boolean> {
    const params = new SqlParameters(this.sql);
    const { rows } = await executeSql(
      manager,
      `INSERT INTO ${this.tables.inbox} (consumer, message_id, processed_at) ` +
        `VALUES (${params.add(consumer)}, ${params.add(messageId)}, ${params.add(this.sql.encodeTimestamp(this.clock.now()))}) ` +
        'ON CONFLICT (consumer, message_id) DO NOTHING RETURNING message_id',
      params.values,
    );
    return rows.length > 0;
  }
}

function checkKey(consumer: string, messageId: string): void {
  if (typeof consumer !== 'string' || consumer.length === 0) throw invalidRequest('consumer must be a non-empty string');
  if (typeof messageId !== 'string' || messageId.length === 0) throw invalidRequest('messageId must be a non-empty string');
}
