import type { DataSource, EntityManager } from 'typeorm';
import { checkIntegerArgument, checkSagaChange, SagaConcurrencyError, systemClock } from '@chronicle/core';
import type { Clock, JsonValue, ListSagasOptions, OverdueDeadlines, SagaChange, SagaDeadline, SagaInstance, SagaStatus, SagaStore } from '@chronicle/core';
import { dialectOf } from '../dialects/dialect-of.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { resolveChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { runInTransaction } from '../transactions/run-in-transaction.js';
import { runRead } from '../transactions/run-read.js';

/** Options of {@link TypeOrmSagaStore}. */
export interface TypeOrmSagaStoreOptions extends ChronicleTableOptions {
  /** Time source of deadline leases, fired and parked marks. @default systemClock */
  clock?: Clock;
}

const DEFAULT_LIST_LIMIT = 100;
// Thirteen parameters per scheduled deadline, one per cancelled name: far below both drivers' limits.
const DEADLINE_INSERT_CHUNK = 500;
// Nine parameters per instance of saveAll's insert.
const INSTANCE_INSERT_CHUNK = 200;

const INSTANCE_COLUMNS = 'saga_name, correlation_id, state, state_version, version, status, started_at, updated_at, ended_at';
const DEADLINE_COLUMNS = 'id, saga_name, correlation_id, name, due_at, payload, attempts, last_error, parked_at';

interface InstanceRow {
  saga_name: string;
  correlation_id: string;
  state: unknown;
  state_version: unknown;
  version: unknown;
  status: SagaStatus;
  started_at: unknown;
  updated_at: unknown;
  ended_at: unknown;
}

interface DeadlineRow {
  id: string;
  saga_name: string;
  correlation_id: string;
  name: string;
  due_at: unknown;
  payload: unknown;
  attempts: unknown;
  last_error: string | null;
  parked_at: unknown;
}

/**
 * Saga instances and deadlines over TypeORM, on PostgreSQL and SQLite (better-sqlite3):
 * `<prefix>saga_states` (one row per saga and correlation id, versioned for optimistic
 * concurrency) and `<prefix>saga_deadlines`.
 *
 * `save` writes the instance first, conditionally on the version it was loaded at (a new one
 * with an insert that skips an existing key), then the fired mark (fenced by the claimer), the
 * cancellations and the scheduled deadlines, all in one transaction: the subscription step's
 * when `tx` is given, else its own. Claims lease deadlines with `FOR UPDATE SKIP LOCKED` on
 * PostgreSQL, so concurrent claimers never wait for nor share a deadline; on SQLite every
 * Chronicle transaction runs under the write lock. All times come from the injected clock.
 */
export class TypeOrmSagaStore implements SagaStore<EntityManager> {
  private readonly sql: SqlDialect;
  private readonly tables: ChronicleTables;
  private readonly clock: Clock;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmSagaStoreOptions = {},
  ) {
    this.sql = dialectOf(dataSource);
    this.tables = resolveChronicleTables(options, this.sql);
    this.clock = options.clock ?? systemClock;
  }

  /** {@inheritDoc SagaStore.load} */
  async load(sagaName: string, correlationId: string): Promise<SagaInstance | undefined> {
    const params = new SqlParameters(this.sql);
    const sql =
      `SELECT ${INSTANCE_COLUMNS} FROM ${this.tables.sagaStates} ` +
      `WHERE saga_name = ${params.add(sagaName)} AND correlation_id = ${params.add(correlationId)}`;
    const [row] = await runRead(this.dataSource, async (manager) => (await executeSql<InstanceRow>(manager, sql, params.values)).rows);
    return row && this.instanceFromRow(row);
  }

  /**
   * {@inheritDoc SagaStore.save}
   * Throws `SagaConcurrencyError` when the instance is not at `expectedVersion` (or exists
   * already, for 0), or when the deadline marked fired is not leased to that owner or has fired;
   * the whole transaction then rolls back (inside `tx`: the caller's, which it must let fail).
   * With `tx`, every statement runs on it: never a Chronicle transaction of its own.
   */
  async save(change: SagaChange, tx?: EntityManager): Promise<void> {
    // An expected version past the column's range is one no instance is at: a conflict, as on any
    // store, without binding it. A version to store must fit the column.
    const { instance, expectedVersion } = change;
    if (checkIntegerArgument('change.expectedVersion', expectedVersion, 0) > this.sql.maxStoredVersion) {
      throw new SagaConcurrencyError(instance.sagaName, instance.correlationId, expectedVersion);
    }
    checkSagaChange(change, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
    if (tx) await this.saveIn(tx, change);
    else await runInTransaction(this.dataSource, (manager) => this.saveIn(manager, change));
  }

  /**
   * {@inheritDoc SagaStore.saveAll}
   * The new instances whose change sets, cancels and fires no deadline (a start that completes at
   * once, or waits for its next event) go in one multi-row insert per 200; every other change is
   * written as `save` writes it.
   */
  async saveAll(changes: readonly SagaChange[], tx: EntityManager): Promise<void> {
    const inserts: SagaChange[] = [];
    const others: SagaChange[] = [];
    for (const change of changes) {
      if (checkIntegerArgument('change.expectedVersion', change.expectedVersion, 0) > this.sql.maxStoredVersion) {
        throw new SagaConcurrencyError(change.instance.sagaName, change.instance.correlationId, change.expectedVersion);
      }
      checkSagaChange(change, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
      const plainStart = change.expectedVersion === 0 && !change.fired && !change.schedule?.length && !change.cancel?.length;
      (plainStart ? inserts : others).push(change);
    }
    for (let from = 0; from < inserts.length; from += INSTANCE_INSERT_CHUNK) await this.insertNew(tx, inserts.slice(from, from + INSTANCE_INSERT_CHUNK));
    for (const change of others) await this.saveIn(tx, change);
  }

  /** Inserts new instances in one statement; one that exists already fails the call (`SagaConcurrencyError`). */
  private async insertNew(manager: EntityManager, changes: readonly SagaChange[]): Promise<void> {
    const params = new SqlParameters(this.sql);
    // Placeholders are positional on SQLite: each is added where it appears in the text.
    const values = changes.map(({ instance }) => {
      const row = [
        instance.sagaName,
        instance.correlationId,
        this.sql.encodeJson(instance.state),
        instance.stateVersion,
        instance.version,
        instance.status,
        this.sql.encodeTimestamp(instance.startedAt),
        this.sql.encodeTimestamp(instance.updatedAt),
        instance.endedAt ? this.sql.encodeTimestamp(instance.endedAt) : null,
      ];
      return `(${row.map((value) => params.add(value)).join(', ')})`;
    });
    const { rows } = await executeSql<{ saga_name: string; correlation_id: string }>(
      manager,
      `INSERT INTO ${this.tables.sagaStates} (${INSTANCE_COLUMNS}) VALUES ${values.join(', ')} ` +
        'ON CONFLICT (saga_name, correlation_id) DO NOTHING RETURNING saga_name, correlation_id',
      params.values,
    );
    if (rows.length === changes.length) return;
    const inserted = new Set(rows.map((row) => `${row.saga_name}\u0000${row.correlation_id}`));
    const stale = changes.find(({ instance }) => !inserted.has(`${instance.sagaName}\u0000${instance.correlationId}`)) ?? changes[0]!;
    throw new SagaConcurrencyError(stale.instance.sagaName, stale.instance.correlationId, 0);
  }

  /** {@inheritDoc SagaStore.delete} */
  async delete(sagaName: string, correlationId: string): Promise<void> {
    await runInTransaction(this.dataSource, async (manager) => {
      for (const table of [this.tables.sagaStates, this.tables.sagaDeadlines]) {
        const params = new SqlParameters(this.sql);
        await executeSql(
          manager,
          `DELETE FROM ${table} WHERE saga_name = ${params.add(sagaName)} AND correlation_id = ${params.add(correlationId)}`,
          params.values,
        );
      }
    });
  }

  /** {@inheritDoc SagaStore.list} By correlation id (code-point order). */
  async list(sagaName: string, options: ListSagasOptions = {}): Promise<SagaInstance[]> {
    const params = new SqlParameters(this.sql);
    let sql = `SELECT ${INSTANCE_COLUMNS} FROM ${this.tables.sagaStates} WHERE saga_name = ${params.add(sagaName)}`;
    if (options.status !== undefined) sql += ` AND status = ${params.add(options.status)}`;
    if (options.after !== undefined) sql += ` AND correlation_id > ${params.add(options.after)}`;
    sql += ` ORDER BY correlation_id LIMIT ${params.add(checkIntegerArgument('limit', options.limit ?? DEFAULT_LIST_LIMIT, 0))}`;
    const rows = await runRead(this.dataSource, async (manager) => (await executeSql<InstanceRow>(manager, sql, params.values)).rows);
    return rows.map((row) => this.instanceFromRow(row));
  }

  /**
   * {@inheritDoc SagaStore.claimDue}
   * Due deadlines neither fired nor parked, whose lease is absent, expired or already this
   * owner's, earliest first; returned by due time, then id.
   */
  async claimDue(owner: string, leaseMs: number, limit: number): Promise<SagaDeadline[]> {
    checkIntegerArgument('leaseMs', leaseMs, 1);
    checkIntegerArgument('limit', limit, 0);
    const now = this.clock.now();
    const at = this.sql.encodeTimestamp(now);
    const params = new SqlParameters(this.sql);
    const t = this.tables.sagaDeadlines;
    const set = `lease_owner = ${params.add(owner)}, lease_until = ${params.add(this.sql.encodeTimestamp(new Date(now.getTime() + leaseMs)))}`;
    const due =
      `SELECT id FROM ${t} WHERE fired_at IS NULL AND parked_at IS NULL AND due_at <= ${params.add(at)} ` +
      `AND (lease_until IS NULL OR lease_until <= ${params.add(at)} OR lease_owner = ${params.add(owner)}) ` +
      `ORDER BY due_at, id LIMIT ${params.add(limit)}`;
    // PostgreSQL: rows another claimer holds are skipped, and a row changed since the snapshot is
    // re-checked as locked (READ COMMITTED), so a deadline leased meanwhile is not taken again.
    const sql =
      this.sql.name === 'postgres'
        ? `UPDATE ${t} d SET ${set} FROM (${due} FOR UPDATE SKIP LOCKED) c WHERE d.id = c.id ` +
          `RETURNING ${DEADLINE_COLUMNS.split(', ').map((column) => `d.${column}`).join(', ')}`
        : `UPDATE ${t} SET ${set} WHERE id IN (${due}) RETURNING ${DEADLINE_COLUMNS}`;
    const rows = await runInTransaction(this.dataSource, async (manager) => (await executeSql<DeadlineRow>(manager, sql, params.values)).rows);
    return rows.map((row) => this.deadlineFromRow(row)).sort(byDueThenId);
  }

  /** {@inheritDoc SagaStore.releaseDeadline} Changes nothing unless `owner` holds the unfired deadline. */
  async releaseDeadline(id: string, owner: string, error: string, retryAt: Date | null): Promise<void> {
    const now = this.sql.encodeTimestamp(this.clock.now());
    await runInTransaction(this.dataSource, async (manager) => {
      // Placeholders are positional on SQLite: each is added where it appears in the text.
      const params = new SqlParameters(this.sql);
      let sql = `UPDATE ${this.tables.sagaDeadlines} SET attempts = attempts + 1, last_error = ${params.add(error)}, `;
      sql += retryAt === null ? `parked_at = ${params.add(now)}` : `due_at = ${params.add(this.sql.encodeTimestamp(retryAt))}`;
      sql += `, lease_owner = NULL, lease_until = NULL WHERE id = ${params.add(id)} AND lease_owner = ${params.add(owner)} AND fired_at IS NULL`;
      await executeSql(manager, sql, params.values);
    });
  }

  /** {@inheritDoc SagaStore.dropDeadline} Changes nothing unless `owner` holds the unfired deadline. */
  async dropDeadline(id: string, owner: string): Promise<void> {
    const now = this.sql.encodeTimestamp(this.clock.now());
    await runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `UPDATE ${this.tables.sagaDeadlines} SET fired_at = ${params.add(now)} ` +
          `WHERE id = ${params.add(id)} AND lease_owner = ${params.add(owner)} AND fired_at IS NULL`,
        params.values,
      );
    });
  }

  /** {@inheritDoc SagaStore.deadlines} Parked ones included; by due time, then id. */
  async deadlines(sagaName: string, correlationId: string): Promise<SagaDeadline[]> {
    const params = new SqlParameters(this.sql);
    const sql =
      `SELECT ${DEADLINE_COLUMNS} FROM ${this.tables.sagaDeadlines} ` +
      `WHERE saga_name = ${params.add(sagaName)} AND correlation_id = ${params.add(correlationId)} AND fired_at IS NULL ` +
      'ORDER BY due_at, id';
    const rows = await runRead(this.dataSource, async (manager) => (await executeSql<DeadlineRow>(manager, sql, params.values)).rows);
    return rows.map((row) => this.deadlineFromRow(row));
  }

  /** {@inheritDoc SagaStore.overdueDeadlines} */
  async overdueDeadlines(): Promise<OverdueDeadlines[]> {
    const params = new SqlParameters(this.sql);
    const sql =
      `SELECT saga_name, COUNT(*) AS overdue FROM ${this.tables.sagaDeadlines} ` +
      `WHERE fired_at IS NULL AND parked_at IS NULL AND due_at <= ${params.add(this.sql.encodeTimestamp(this.clock.now()))} ` +
      'GROUP BY saga_name';
    const rows = await runRead(this.dataSource, async (manager) => (await executeSql<{ saga_name: string; overdue: number | string }>(manager, sql, params.values)).rows);
    // Sorted here, whatever the database's collation (saga names are ASCII: see @Saga).
    return rows
      .map((row) => ({ sagaName: row.saga_name, count: Number(row.overdue) }))
      .sort((a, b) => (a.sagaName < b.sagaName ? -1 : a.sagaName > b.sagaName ? 1 : 0));
  }

  /** {@inheritDoc SagaStore.pruneCompleted} */
  async pruneCompleted(before: Date): Promise<number> {
    const cutoff = this.sql.encodeTimestamp(before);
    return runInTransaction(this.dataSource, async (manager) => {
      const instances = new SqlParameters(this.sql);
      const { rows } = await executeSql(
        manager,
        `DELETE FROM ${this.tables.sagaStates} WHERE status = 'completed' AND ended_at < ${instances.add(cutoff)} RETURNING correlation_id`,
        instances.values,
      );
      const deadlines = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `DELETE FROM ${this.tables.sagaDeadlines} WHERE fired_at IS NOT NULL AND fired_at < ${deadlines.add(cutoff)}`,
        deadlines.values,
      );
      return rows.length;
    });
  }

  private async saveIn(manager: EntityManager, change: SagaChange): Promise<void> {
    const { instance } = change;
    const conflict = (): SagaConcurrencyError => new SagaConcurrencyError(instance.sagaName, instance.correlationId, change.expectedVersion);
    const now = this.sql.encodeTimestamp(this.clock.now());

    const params = new SqlParameters(this.sql);
    const state = this.sql.encodeJson(instance.state);
    const startedAt = this.sql.encodeTimestamp(instance.startedAt);
    const updatedAt = this.sql.encodeTimestamp(instance.updatedAt);
    const endedAt = instance.endedAt ? this.sql.encodeTimestamp(instance.endedAt) : null;
    // Placeholders are positional on SQLite: each is added where it appears in the text.
    const sql =
      change.expectedVersion === 0
        ? `INSERT INTO ${this.tables.sagaStates} (${INSTANCE_COLUMNS}) VALUES (` +
          [instance.sagaName, instance.correlationId, state, instance.stateVersion, instance.version, instance.status, startedAt, updatedAt, endedAt]
            .map((value) => params.add(value))
            .join(', ') +
          ') ON CONFLICT (saga_name, correlation_id) DO NOTHING RETURNING version'
        : `UPDATE ${this.tables.sagaStates} SET state = ${params.add(state)}, state_version = ${params.add(instance.stateVersion)}, ` +
          `version = ${params.add(instance.version)}, status = ${params.add(instance.status)}, started_at = ${params.add(startedAt)}, ` +
          `updated_at = ${params.add(updatedAt)}, ended_at = ${params.add(endedAt)} ` +
          `WHERE saga_name = ${params.add(instance.sagaName)} AND correlation_id = ${params.add(instance.correlationId)} ` +
          `AND version = ${params.add(change.expectedVersion)} RETURNING version`;
    if ((await executeSql(manager, sql, params.values)).rows.length === 0) throw conflict();

    if (change.fired) {
      const fired = new SqlParameters(this.sql);
      const { rows } = await executeSql(
        manager,
        `UPDATE ${this.tables.sagaDeadlines} SET fired_at = ${fired.add(now)} ` +
          `WHERE id = ${fired.add(change.fired.id)} AND lease_owner = ${fired.add(change.fired.owner)} AND fired_at IS NULL RETURNING id`,
        fired.values,
      );
      if (rows.length === 0) throw conflict();
    }

    const cancel = change.cancel ?? [];
    if (cancel.length > 0) {
      const cancelled = new SqlParameters(this.sql);
      let cancelSql =
        `UPDATE ${this.tables.sagaDeadlines} SET fired_at = ${cancelled.add(now)} ` +
        `WHERE saga_name = ${cancelled.add(instance.sagaName)} AND correlation_id = ${cancelled.add(instance.correlationId)} ` +
        'AND fired_at IS NULL';
      if (!cancel.includes('*')) cancelSql += ` AND name IN (${cancel.map((name) => cancelled.add(name)).join(', ')})`;
      await executeSql(manager, cancelSql, cancelled.values);
    }

    // Scheduling an id again moves the deadline and starts it over; the last of an id wins.
    const schedule = [...new Map((change.schedule ?? []).map((deadline) => [deadline.id, deadline])).values()];
    for (let start = 0; start < schedule.length; start += DEADLINE_INSERT_CHUNK) {
      const insert = new SqlParameters(this.sql);
      const rows = schedule.slice(start, start + DEADLINE_INSERT_CHUNK).map((deadline) => {
        const row = [
          deadline.id,
          deadline.sagaName,
          deadline.correlationId,
          deadline.name,
          this.sql.encodeTimestamp(deadline.dueAt),
          deadline.payload === null || deadline.payload === undefined ? null : this.sql.encodeJson(deadline.payload),
          now,
        ];
        return `(${row.map((value) => insert.add(value)).join(', ')}, 0, NULL, NULL, NULL, NULL, NULL)`;
      });
      await executeSql(
        manager,
        `INSERT INTO ${this.tables.sagaDeadlines} (id, saga_name, correlation_id, name, due_at, payload, created_at, ` +
          `attempts, last_error, lease_owner, lease_until, fired_at, parked_at) VALUES ${rows.join(', ')} ` +
          'ON CONFLICT (id) DO UPDATE SET saga_name = excluded.saga_name, correlation_id = excluded.correlation_id, ' +
          'name = excluded.name, due_at = excluded.due_at, payload = excluded.payload, attempts = 0, last_error = NULL, ' +
          'lease_owner = NULL, lease_until = NULL, fired_at = NULL, parked_at = NULL',
        insert.values,
      );
    }
  }

  private instanceFromRow(row: InstanceRow): SagaInstance {
    return {
      sagaName: row.saga_name,
      correlationId: row.correlation_id,
      state: this.sql.decodeJson(row.state) as JsonValue,
      stateVersion: this.sql.decodeInteger(row.state_version),
      version: this.sql.decodeInteger(row.version),
      status: row.status,
      startedAt: this.sql.decodeTimestamp(row.started_at),
      updatedAt: this.sql.decodeTimestamp(row.updated_at),
      endedAt: this.optionalTime(row.ended_at),
    };
  }

  private deadlineFromRow(row: DeadlineRow): SagaDeadline {
    return {
      id: row.id,
      sagaName: row.saga_name,
      correlationId: row.correlation_id,
      name: row.name,
      dueAt: this.sql.decodeTimestamp(row.due_at),
      payload: row.payload === null || row.payload === undefined ? null : (this.sql.decodeJson(row.payload) as JsonValue),
      attempts: this.sql.decodeInteger(row.attempts),
      lastError: row.last_error,
      parkedAt: this.optionalTime(row.parked_at),
    };
  }

  private optionalTime(raw: unknown): Date | null {
    return raw === null || raw === undefined ? null : this.sql.decodeTimestamp(raw);
  }
}

function compareBytes(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

function byDueThenId(a: SagaDeadline, b: SagaDeadline): number {
  return a.dueAt.getTime() - b.dueAt.getTime() || compareBytes(a.id, b.id);
}
