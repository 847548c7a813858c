import type { DataSource, EntityManager } from 'typeorm';
import { ChronicleError, CheckpointLeaseLostError, checkIntegerArgument, checkParkedEvents, systemClock } from '@chronicle/core';
import type { Checkpoint, CheckpointAdvance, CheckpointReset, CheckpointStore, Clock, ParkedEvent, ParkedQuery } from '@chronicle/core';
import { dialectOf } from '../dialects/dialect-of.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { resolveChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { runInTransaction } from '../transactions/run-in-transaction.js';
import { runInTransactionOpenedBy } from '../transactions/run-in-transaction-opened-by.js';
import { InlineSqlParameters, UnsafeSqlLiteralError } from '../journal/postgres-inline-parameters.js';
import { runRead } from '../transactions/run-read.js';

/** Options of {@link TypeOrmCheckpointStore}. */
export interface TypeOrmCheckpointStoreOptions extends ChronicleTableOptions {
  /** Time source of leases and bookkeeping timestamps. @default systemClock */
  clock?: Clock;
}

const CHECKPOINT_COLUMNS = 'name, position, lease_owner, lease_until, last_error, updated_at';
const PARKED_COLUMNS =
  'subscription, event_id, stream_id, version, position, type, reason, error, attempts, parked_at, redrive_requested_at';
// Eleven parameters per parked event, one per unparked id: chunks far below both drivers' limits.
const PARKED_INSERT_CHUNK = 500;
const ID_CHUNK = 500;

interface CheckpointRow {
  name: string;
  position: string | null;
  lease_owner: string | null;
  lease_until: unknown;
  last_error: string | null;
  updated_at: unknown;
}

interface ParkedRow {
  subscription: string;
  event_id: string;
  stream_id: string;
  version: unknown;
  position: unknown;
  type: string;
  reason: 'failed' | 'held';
  error: string | null;
  attempts: unknown;
  parked_at: unknown;
  redrive_requested_at: unknown;
}

/**
 * Subscription checkpoints over TypeORM, on PostgreSQL and SQLite (better-sqlite3):
 * `<prefix>checkpoints` (one row per subscription: position, lease, last error) and
 * `<prefix>parked_events`. The transaction handle given to `advance` and `reset` work is the
 * transaction's EntityManager: write the read model through it.
 *
 * Fencing is one conditional UPDATE of the checkpoint row, the first statement of a step: it
 * succeeds only for the lease owner and only from the position the runner read. On PostgreSQL
 * it also takes the row lock, so a concurrent step or rebuild of the same subscription waits
 * for it and then re-checks the condition on the committed row (READ COMMITTED), failing with
 * `CheckpointLeaseLostError` if it moved. On SQLite every Chronicle transaction runs under the
 * write lock, so steps run one at a time. All times come from the injected clock.
 *
 * Round trips of a step on PostgreSQL: a step with nothing to write is the fenced UPDATE alone, in
 * autocommit (one); a step with work sends `START TRANSACTION` and the fenced UPDATE (its values
 * written as literals) as one simple-protocol query, then the work's statements, then COMMIT.
 */
export class TypeOrmCheckpointStore implements CheckpointStore<EntityManager> {
  private readonly sql: SqlDialect;
  private readonly tables: ChronicleTables;
  private readonly clock: Clock;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmCheckpointStoreOptions = {},
  ) {
    this.sql = dialectOf(dataSource);
    this.tables = resolveChronicleTables(options, this.sql);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * {@inheritDoc CheckpointStore.acquire}
   * One upsert: it creates the row or takes the lease under the row lock, so of two concurrent
   * acquirers exactly one wins.
   */
  async acquire(name: string, owner: string, leaseMs: number): Promise<Checkpoint | undefined> {
    checkIntegerArgument('leaseMs', leaseMs, 1);
    const [row] = await runInTransaction(this.dataSource, async (manager) => {
      // The time is read once the transaction has begun: on SQLite a renewal may have waited for
      // the write lock behind a long checkpoint transaction, and its lease counts from now.
      const now = this.clock.now();
      const at = this.sql.encodeTimestamp(now);
      const until = this.sql.encodeTimestamp(new Date(now.getTime() + leaseMs));
      // Placeholders are positional on SQLite: each is added where it appears in the text. The
      // alias lets the conflict clause tell the stored row from `excluded` (PostgreSQL); RETURNING
      // stays unqualified because SQLite does not resolve the alias there.
      const params = new SqlParameters(this.sql);
      const sql =
        `INSERT INTO ${this.tables.checkpoints} AS c (${CHECKPOINT_COLUMNS}) ` +
        `VALUES (${params.add(name)}, NULL, ${params.add(owner)}, ${params.add(until)}, NULL, ${params.add(at)}) ` +
        'ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until ' +
        `WHERE c.lease_owner IS NULL OR c.lease_owner = ${params.add(owner)} OR c.lease_until IS NULL OR c.lease_until <= ${params.add(at)} ` +
        `RETURNING ${CHECKPOINT_COLUMNS}`;
      return (await executeSql<CheckpointRow>(manager, sql, params.values)).rows;
    });
    return row && this.checkpointFromRow(row);
  }

  /** {@inheritDoc CheckpointStore.release} */
  async release(name: string, owner: string): Promise<void> {
    await runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `UPDATE ${this.tables.checkpoints} SET lease_owner = NULL, lease_until = NULL ` +
          `WHERE name = ${params.add(name)} AND lease_owner = ${params.add(owner)}`,
        params.values,
      );
    });
  }

  /**
   * {@inheritDoc CheckpointStore.advance}
   * The fenced checkpoint update comes first (the row lock is the step's first lock), then
   * `work`, then the parked events. Throws `CheckpointLeaseLostError` when the fencing fails, and
   * rethrows what `work` throws; either way the whole step rolls back. On PostgreSQL the fenced
   * update shares its round trip with `START TRANSACTION` (bound parameters instead, one round trip
   * more, when a value cannot be a literal: a NUL character, which PostgreSQL then refuses).
   */
  async advance<T = void>(step: CheckpointAdvance, work?: (tx: EntityManager) => Promise<T>): Promise<T | undefined> {
    checkParkedEvents('step.park', step.park, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
    const now = this.clock.now();
    const bare = !work && !step.park?.length && !step.unpark?.length && step.clearRedrive === undefined;
    if (bare && this.sql.name === 'postgres') {
      // A step with nothing else to write is one statement: atomic on its own, one round trip
      // instead of three (a subscription passing events it does not handle, a no-op catch-up).
      const params = new SqlParameters(this.sql);
      const { rows } = await executeSql(this.dataSource.manager, this.fencedUpdate(step, now, params), params.values);
      if (rows.length === 0) throw new CheckpointLeaseLostError(step.name, step.owner);
      return undefined;
    }
    const rest = async (manager: EntityManager, fenced: unknown[]): Promise<T | undefined> => {
      if (fenced.length === 0) throw new CheckpointLeaseLostError(step.name, step.owner);
      const result = work ? await work(manager) : undefined;
      await this.park(manager, step.name, step.park ?? []);
      await this.unpark(manager, step.name, step.unpark ?? []);
      if (step.clearRedrive !== undefined) {
        const clear = new SqlParameters(this.sql);
        await executeSql(
          manager,
          `UPDATE ${this.tables.parkedEvents} SET redrive_requested_at = NULL ` +
            `WHERE subscription = ${clear.add(step.name)} AND stream_id = ${clear.add(step.clearRedrive)}`,
          clear.values,
        );
      }
      return result;
    };
    if (this.sql.name === 'postgres') {
      let inline: string | undefined;
      try {
        inline = this.fencedUpdate(step, now, new InlineSqlParameters());
      } catch (error) {
        // A value no literal can carry (a NUL in an error text): bound parameters, one round trip more.
        if (!(error instanceof UnsafeSqlLiteralError)) throw error;
      }
      // START TRANSACTION and the fenced update in one round trip: BEGIN, fence, work, COMMIT in three.
      if (inline !== undefined) return runInTransactionOpenedBy(this.dataSource, inline, rest);
    }
    return runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      return rest(manager, (await executeSql(manager, this.fencedUpdate(step, now, params), params.values)).rows);
    });
  }

  /**
   * The fencing UPDATE of a step: it moves the checkpoint only for the lease owner and only from
   * the position the runner read, and returns the row it moved (none: the lease is lost).
   */
  private fencedUpdate(step: CheckpointAdvance, now: Date, params: SqlParameters): string {
    let sql = `UPDATE ${this.tables.checkpoints} SET position = ${params.add(step.to)}, updated_at = ${params.add(this.sql.encodeTimestamp(now))}`;
    if (step.lastError !== undefined) sql += `, last_error = ${params.add(step.lastError)}`;
    return (
      sql +
      ` WHERE name = ${params.add(step.name)} AND lease_owner = ${params.add(step.owner)} ` +
      `AND position ${this.sql.name === 'postgres' ? 'IS NOT DISTINCT FROM' : 'IS'} ${params.add(step.from)} RETURNING name`
    );
  }

  /** {@inheritDoc CheckpointStore.recordError} */
  async recordError(name: string, owner: string, error: string): Promise<void> {
    const now = this.sql.encodeTimestamp(this.clock.now());
    await runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `UPDATE ${this.tables.checkpoints} SET last_error = ${params.add(error)}, updated_at = ${params.add(now)} ` +
          `WHERE name = ${params.add(name)} AND lease_owner = ${params.add(owner)}`,
        params.values,
      );
    });
  }

  /** {@inheritDoc CheckpointStore.load} */
  async load(name: string): Promise<Checkpoint | undefined> {
    const params = new SqlParameters(this.sql);
    const sql = `SELECT ${CHECKPOINT_COLUMNS} FROM ${this.tables.checkpoints} WHERE name = ${params.add(name)}`;
    const [row] = await runRead(this.dataSource, async (manager) => (await executeSql<CheckpointRow>(manager, sql, params.values)).rows);
    return row && this.checkpointFromRow(row);
  }

  /** {@inheritDoc CheckpointStore.list} By name (code-point order). */
  async list(): Promise<Checkpoint[]> {
    const sql = `SELECT ${CHECKPOINT_COLUMNS} FROM ${this.tables.checkpoints} ORDER BY name`;
    const rows = await runRead(this.dataSource, async (manager) => (await executeSql<CheckpointRow>(manager, sql)).rows);
    return rows.map((row) => this.checkpointFromRow(row));
  }

  /** {@inheritDoc CheckpointStore.parked} */
  async parked(name: string, options: ParkedQuery = {}): Promise<ParkedEvent[]> {
    const params = new SqlParameters(this.sql);
    let sql = `SELECT ${PARKED_COLUMNS} FROM ${this.tables.parkedEvents} WHERE subscription = ${params.add(name)}`;
    if (options.streamId !== undefined) sql += ` AND stream_id = ${params.add(options.streamId)}`;
    if (options.redriveRequested) sql += ' AND redrive_requested_at IS NOT NULL';
    sql += ' ORDER BY stream_id, version, event_id';
    if (options.limit !== undefined) sql += ` LIMIT ${params.add(checkIntegerArgument('limit', options.limit, 0))}`;
    const rows = await runRead(this.dataSource, async (manager) => (await executeSql<ParkedRow>(manager, sql, params.values)).rows);
    return rows.map((row) => this.parkedFromRow(row));
  }

  /** {@inheritDoc CheckpointStore.requestRedrive} */
  async requestRedrive(name: string, streamId?: string): Promise<number> {
    const now = this.sql.encodeTimestamp(this.clock.now());
    return runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      let sql = `UPDATE ${this.tables.parkedEvents} SET redrive_requested_at = ${params.add(now)} WHERE subscription = ${params.add(name)}`;
      if (streamId !== undefined) sql += ` AND stream_id = ${params.add(streamId)}`;
      return (await executeSql(manager, `${sql} RETURNING event_id`, params.values)).rows.length;
    });
  }

  /**
   * {@inheritDoc CheckpointStore.reset}
   * The checkpoint row is written first (created when missing, position and last error
   * cleared), which locks it for the whole rebuild; the lease is left as it is.
   */
  async reset(name: string, work: (tx: EntityManager) => Promise<CheckpointReset>): Promise<CheckpointReset> {
    return runInTransaction(this.dataSource, async (manager) => {
      const lock = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `INSERT INTO ${this.tables.checkpoints} (${CHECKPOINT_COLUMNS}) ` +
          `VALUES (${lock.add(name)}, NULL, NULL, NULL, NULL, ${lock.add(this.sql.encodeTimestamp(this.clock.now()))}) ` +
          'ON CONFLICT (name) DO UPDATE SET position = NULL, last_error = NULL, updated_at = excluded.updated_at',
        lock.values,
      );
      const forget = new SqlParameters(this.sql);
      await executeSql(manager, `DELETE FROM ${this.tables.parkedEvents} WHERE subscription = ${forget.add(name)}`, forget.values);
      const result = await work(manager);
      // Checked before its writes: a refused park rolls the whole rebuild back.
      checkParkedEvents('reset park', result.park, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
      const done = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `UPDATE ${this.tables.checkpoints} SET position = ${done.add(result.position)}, ` +
          `updated_at = ${done.add(this.sql.encodeTimestamp(this.clock.now()))} WHERE name = ${done.add(name)}`,
        done.values,
      );
      await this.park(manager, name, result.park);
      return result;
    });
  }

  /**
   * {@inheritDoc CheckpointStore.nested}
   * A savepoint on the transaction of `tx` (TypeORM issues SAVEPOINT / RELEASE / ROLLBACK TO for
   * a transaction started inside an active one, on both drivers). Throws `ChronicleError` when
   * `tx` is not inside a transaction: there would be nothing to nest in.
   */
  async nested<T>(tx: EntityManager, work: () => Promise<T>): Promise<T> {
    const runner = tx.queryRunner;
    if (!runner?.isTransactionActive) {
      throw new ChronicleError(
        'CheckpointStore.nested needs the EntityManager of an open transaction (the one advance or reset hands to its work).',
        { code: 'NestedOutsideTransaction' },
      );
    }
    await runner.startTransaction();
    let result: T;
    try {
      result = await work();
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    }
    await runner.commitTransaction();
    return result;
  }

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    await runInTransaction(this.dataSource, async (manager) => {
      const checkpoint = new SqlParameters(this.sql);
      await executeSql(manager, `DELETE FROM ${this.tables.checkpoints} WHERE name = ${checkpoint.add(name)}`, checkpoint.values);
      const parked = new SqlParameters(this.sql);
      await executeSql(manager, `DELETE FROM ${this.tables.parkedEvents} WHERE subscription = ${parked.add(name)}`, parked.values);
    });
  }

  /**
   * Parks events under `subscription`; an event parked already takes the new record (a failed
   * re-drive). The last record of an event id wins, as in a map.
   */
  private async park(manager: EntityManager, subscription: string, events: readonly ParkedEvent[]): Promise<void> {
    const unique = [...new Map(events.map((event) => [event.eventId, event])).values()];
    for (let start = 0; start < unique.length; start += PARKED_INSERT_CHUNK) {
      const params = new SqlParameters(this.sql);
      const values = unique.slice(start, start + PARKED_INSERT_CHUNK).map((event) => {
        const row = [
          subscription,
          event.eventId,
          event.streamId,
          event.version,
          event.position,
          event.type,
          event.reason,
          event.error,
          event.attempts,
          this.sql.encodeTimestamp(event.parkedAt),
          event.redriveRequestedAt ? this.sql.encodeTimestamp(event.redriveRequestedAt) : null,
        ];
        return `(${row.map((value) => params.add(value)).join(', ')})`;
      });
      await executeSql(
        manager,
        `INSERT INTO ${this.tables.parkedEvents} (${PARKED_COLUMNS}) VALUES ${values.join(', ')} ` +
          'ON CONFLICT (subscription, event_id) DO UPDATE SET stream_id = excluded.stream_id, version = excluded.version, ' +
          'position = excluded.position, type = excluded.type, reason = excluded.reason, error = excluded.error, ' +
          'attempts = excluded.attempts, parked_at = excluded.parked_at, redrive_requested_at = excluded.redrive_requested_at',
        params.values,
      );
    }
  }

  private async unpark(manager: EntityManager, subscription: string, eventIds: readonly string[]): Promise<void> {
    for (let start = 0; start < eventIds.length; start += ID_CHUNK) {
      const params = new SqlParameters(this.sql);
      const where = `subscription = ${params.add(subscription)}`;
      const ids = eventIds.slice(start, start + ID_CHUNK).map((id) => params.add(id));
      await executeSql(manager, `DELETE FROM ${this.tables.parkedEvents} WHERE ${where} AND event_id IN (${ids.join(', ')})`, params.values);
    }
  }

  private checkpointFromRow(row: CheckpointRow): Checkpoint {
    return {
      name: row.name,
      position: row.position,
      leaseOwner: row.lease_owner,
      leaseUntil: this.optionalTime(row.lease_until),
      lastError: row.last_error,
      updatedAt: this.sql.decodeTimestamp(row.updated_at),
    };
  }

  private parkedFromRow(row: ParkedRow): ParkedEvent {
    return {
      subscription: row.subscription,
      eventId: row.event_id,
      streamId: row.stream_id,
      version: this.sql.decodeInteger(row.version),
      position: this.sql.decodeInteger(row.position),
      type: row.type,
      reason: row.reason,
      error: row.error,
      attempts: this.sql.decodeInteger(row.attempts),
      parkedAt: this.sql.decodeTimestamp(row.parked_at),
      redriveRequestedAt: this.optionalTime(row.redrive_requested_at),
    };
  }

  private optionalTime(raw: unknown): Date | null {
    return raw === null || raw === undefined ? null : this.sql.decodeTimestamp(raw);
  }
}
