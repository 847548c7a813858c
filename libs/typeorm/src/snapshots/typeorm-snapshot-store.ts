import type { DataSource } from 'typeorm';
import { checkIntegerArgument } from '@chronicle/core';
import type { Snapshot, SnapshotStore } from '@chronicle/core';
import { dialectOf } from '../dialects/dialect-of.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import type { ChronicleTableOptions, ChronicleTables } from '../table-options.js';
import { resolveChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { runInTransaction } from '../transactions/run-in-transaction.js';
import { runRead } from '../transactions/run-read.js';

/** Options of {@link TypeOrmSnapshotStore}. */
export type TypeOrmSnapshotStoreOptions = ChronicleTableOptions;

interface SnapshotRow {
  stream_id: string;
  version: unknown;
  aggregate_type: string;
  schema_version: unknown;
  state: unknown;
  taken_at: unknown;
}

/**
 * Aggregate snapshots in `<prefix>snapshots`, on PostgreSQL and SQLite. `save` upserts the
 * snapshot and prunes the stream to its newest `keep` in one transaction, so a reader never
 * sees the stream without its newest snapshot.
 */
export class TypeOrmSnapshotStore implements SnapshotStore {
  private readonly sql: SqlDialect;
  private readonly tables: ChronicleTables;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmSnapshotStoreOptions = {},
  ) {
    this.sql = dialectOf(dataSource);
    this.tables = resolveChronicleTables(options, this.sql);
  }

  /** {@inheritDoc SnapshotStore.save} */
  async save(snapshot: Snapshot, keep: number): Promise<void> {
    // keep >= 1: the snapshot being saved counts. A version past the column's range is one no
    // stream of this journal reaches, so such a snapshot could never be used: refused.
    checkIntegerArgument('keep', keep, 1);
    checkIntegerArgument('snapshot.version', snapshot.version, 0, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
    checkIntegerArgument('snapshot.schemaVersion', snapshot.schemaVersion, 0, this.sql.maxStoredVersion, this.sql.maxStoredVersionReason);
    await runInTransaction(this.dataSource, async (manager) => {
      const upsert = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `INSERT INTO ${this.tables.snapshots} (stream_id, version, aggregate_type, schema_version, state, taken_at) VALUES (` +
          [
            snapshot.streamId,
            snapshot.version,
            snapshot.aggregateType,
            snapshot.schemaVersion,
            this.sql.encodeJson(snapshot.state),
            this.sql.encodeTimestamp(snapshot.takenAt),
          ]
            .map((value) => upsert.add(value))
            .join(', ') +
          ') ON CONFLICT (stream_id, version) DO UPDATE SET aggregate_type = excluded.aggregate_type, ' +
          'schema_version = excluded.schema_version, state = excluded.state, taken_at = excluded.taken_at',
        upsert.values,
      );
      // Everything below the keep-th newest version goes; with fewer than `keep` snapshots the
      // subquery is NULL and nothing is deleted.
      const prune = new SqlParameters(this.sql);
      await executeSql(
        manager,
        `DELETE FROM ${this.tables.snapshots} WHERE stream_id = ${prune.add(snapshot.streamId)} AND version < (` +
          `SELECT version FROM ${this.tables.snapshots} WHERE stream_id = ${prune.add(snapshot.streamId)} ` +
          `ORDER BY version DESC LIMIT 1 OFFSET ${prune.add(keep - 1)})`,
        prune.values,
      );
    });
  }

  /** {@inheritDoc SnapshotStore.load} */
  async load(streamId: string, options: { maxVersion?: number } = {}): Promise<Snapshot | undefined> {
    const params = new SqlParameters(this.sql);
    let sql =
      `SELECT stream_id, version, aggregate_type, schema_version, state, taken_at FROM ${this.tables.snapshots} ` +
      `WHERE stream_id = ${params.add(streamId)}`;
    if (options.maxVersion !== undefined) checkIntegerArgument('maxVersion', options.maxVersion, 0);
    // Past the column's range (see maxStoredVersion) is no bound at all: not bound as a parameter.
    if (options.maxVersion !== undefined && options.maxVersion < this.sql.maxStoredVersion) {
      sql += ` AND version <= ${params.add(options.maxVersion)}`;
    }
    sql += ' ORDER BY version DESC LIMIT 1';
    const [row] = await runRead(this.dataSource, async (manager) => (await executeSql<SnapshotRow>(manager, sql, params.values)).rows);
    if (!row) return undefined;
    let state: unknown;
    try {
      state = this.sql.decodeJson(row.state);
    } catch {
      // A corrupt row is returned as stored: the loader sees it is unusable and replays instead.
      state = row.state;
    }
    return {
      streamId: row.stream_id,
      aggregateType: row.aggregate_type,
      version: this.sql.decodeInteger(row.version),
      schemaVersion: this.sql.decodeInteger(row.schema_version),
      state,
      takenAt: this.sql.decodeTimestamp(row.taken_at),
    };
  }

  /** {@inheritDoc SnapshotStore.delete} */
  async delete(streamId: string): Promise<void> {
    await runInTransaction(this.dataSource, async (manager) => {
      const params = new SqlParameters(this.sql);
      await executeSql(manager, `DELETE FROM ${this.tables.snapshots} WHERE stream_id = ${params.add(streamId)}`, params.values);
    });
  }
}
