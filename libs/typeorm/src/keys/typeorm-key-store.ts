import { randomBytes, randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import {
  checkIntegerArgument,
  ChronicleError,
  checkKeyId,
  checkSubject,
  MasterKeyRing,
  systemClock,
  type Clock,
  type DataKeyLookup,
  type ForgetResult,
  type KeyReadOptions,
  type KeyStore,
  type MasterKeyOptions,
  type RotationResult,
} from '@chronicle/core';
import { dialectOf } from '../dialects/dialect-of.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { SqlDialect } from '../dialects/sql-dialect.js';
import { resolveChronicleTables, type ChronicleTableOptions, type ChronicleTables } from '../table-options.js';
import { executeSql } from '../transactions/execute-sql.js';
import { runInTransaction } from '../transactions/run-in-transaction.js';
import { runRead } from '../transactions/run-read.js';
import { sqliteWriteLock } from '../transactions/sqlite-write-lock.js';

/** Options of {@link TypeOrmKeyStore}. */
export interface TypeOrmKeyStoreOptions extends ChronicleTableOptions {
  /** The master keys that wrap the data keys, from configuration (a secret store), never from the database. */
  masterKeys: MasterKeyOptions;
  /** Time source of `created_at` and `forgotten_at`. @default systemClock */
  clock?: Clock;
}

interface KeyRow {
  subject: string;
  key_id: string;
  master_key_id: string | null;
  wrapped_key: string | null;
  forgotten_at: unknown;
}

const COLUMNS = 'subject, key_id, master_key_id, wrapped_key, forgotten_at';

/**
 * The data keys of crypto-shredding in `<prefix>data_keys`, on PostgreSQL and SQLite: one row
 * per subject, its key wrapped with AES-256-GCM by the current master key (envelope encryption).
 * `forget` sets the wrapped key to NULL in place, leaving a tombstone with the time. The master
 * keys come from configuration and are checked when the store is built.
 */
export class TypeOrmKeyStore implements KeyStore {
  private readonly sql: SqlDialect;
  private readonly tables: ChronicleTables;
  private readonly ring: MasterKeyRing;
  private readonly clock: Clock;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmKeyStoreOptions,
  ) {
    this.ring = new MasterKeyRing(options?.masterKeys);
    this.sql = dialectOf(dataSource);
    this.tables = resolveChronicleTables(options, this.sql);
    this.clock = options.clock ?? systemClock;
  }

  /** {@inheritDoc KeyStore.keyFor} */
  async keyFor(subject: string): Promise<DataKeyLookup> {
    checkSubject(subject);
    const found = await this.select('subject', subject);
    if (found) return this.lookup(found);
    const keyId = randomUUID();
    const wrapped = this.ring.wrap(keyId, randomBytes(32));
    await runInTransaction(this.dataSource, async (manager) => {
      const p = new SqlParameters(this.sql);
      // Two first uses at once: one insert wins, the other reads the winner's key below.
      await executeSql(
        manager,
        `INSERT INTO ${this.tables.dataKeys} (subject, key_id, master_key_id, wrapped_key, created_at) VALUES (` +
          [subject, keyId, wrapped.masterKeyId, wrapped.wrapped, this.sql.encodeTimestamp(this.clock.now())].map((v) => p.add(v)).join(', ') +
          ') ON CONFLICT (subject) DO NOTHING',
        p.values,
      );
    });
    return this.lookup((await this.select('subject', subject))!);
  }

  /** {@inheritDoc KeyStore.keyById} */
  async keyById(keyId: string, options?: KeyReadOptions): Promise<DataKeyLookup | undefined> {
    checkKeyId(keyId);
    const row = await this.select('key_id', keyId, options?.tx as EntityManager | undefined);
    return row ? this.lookup(row) : undefined;
  }

  /** {@inheritDoc KeyStore.forget} */
  async forget(subject: string): Promise<ForgetResult> {
    checkSubject(subject);
    const now = this.clock.now();
    // One upsert, not an UPDATE then an INSERT: on PostgreSQL an UPDATE cannot see the row of a
    // first `keyFor` that is inserting the subject's key concurrently (not yet committed), and an
    // INSERT ... DO NOTHING then waits for that insert and does nothing, leaving the key active.
    // ON CONFLICT DO UPDATE waits for it too, then destroys the committed key. The WHERE keeps
    // the first forget's time: a row changed by this statement is a key destroyed by this call.
    // READ COMMITTED whatever the DataSource's isolationLevel: under REPEATABLE READ or
    // SERIALIZABLE, DO UPDATE on a row committed after the snapshot fails to serialize instead.
    const insert = new SqlParameters(this.sql);
    const changed = await runInTransaction(this.dataSource, async (manager) => {
      if (this.sql.name === 'postgres') await executeSql(manager, 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      return executeSql(
        manager,
        `INSERT INTO ${this.tables.dataKeys} AS k (subject, key_id, created_at, forgotten_at) VALUES (` +
          [subject, randomUUID(), this.sql.encodeTimestamp(now), this.sql.encodeTimestamp(now)].map((v) => insert.add(v)).join(', ') +
          ') ON CONFLICT (subject) DO UPDATE SET wrapped_key = NULL, master_key_id = NULL, forgotten_at = excluded.forgotten_at WHERE k.forgotten_at IS NULL',
        insert.values,
      );
    });
    const row = await this.select('subject', subject);
    // Cannot happen after the upsert above; a store that lost the tombstone must not report a forget.
    if (!row || row.wrapped_key !== null || row.forgotten_at === null) {
      throw new ChronicleError(`The data key of subject "${subject}" is still active after forget; report this as a bug.`);
    }
    return { subject, forgottenAt: this.sql.decodeTimestamp(row.forgotten_at), destroyedNow: (changed.affected ?? 0) > 0 };
  }

  /** {@inheritDoc KeyStore.rotateMasterKey} */
  async rotateMasterKey(options: { batchSize?: number } = {}): Promise<RotationResult> {
    const batchSize = options.batchSize ?? 100;
    checkIntegerArgument('batchSize', batchSize, 1, 10_000);
    let rewrapped = 0;
    let after = '';
    for (;;) {
      const p = new SqlParameters(this.sql);
      const batch = await runRead(this.dataSource, async (manager) =>
        (
          await executeSql<KeyRow>(
            manager,
            `SELECT ${COLUMNS} FROM ${this.tables.dataKeys} WHERE wrapped_key IS NOT NULL AND master_key_id <> ${p.add(this.ring.currentId)} ` +
              `AND key_id > ${p.add(after)} ORDER BY key_id LIMIT ${p.add(batchSize)}`,
            p.values,
          )
        ).rows,
      );
      if (batch.length === 0) return { rewrapped };
      for (const row of batch) {
        after = row.key_id;
        const rewrap = this.ring.wrap(row.key_id, this.ring.unwrap(row.key_id, { masterKeyId: row.master_key_id!, wrapped: row.wrapped_key! }));
        const u = new SqlParameters(this.sql);
        // Conditional on the old wrapping: a key forgotten (or re-wrapped by another instance) meanwhile is left alone.
        const updated = await runInTransaction(this.dataSource, (manager) =>
          executeSql(
            manager,
            `UPDATE ${this.tables.dataKeys} SET master_key_id = ${u.add(rewrap.masterKeyId)}, wrapped_key = ${u.add(rewrap.wrapped)} ` +
              `WHERE key_id = ${u.add(row.key_id)} AND wrapped_key = ${u.add(row.wrapped_key)}`,
            u.values,
          ),
        );
        rewrapped += updated.affected ?? 0;
      }
    }
  }

  /** {@inheritDoc KeyStore.forgottenAmong} */
  async forgottenAmong(keyIds: readonly string[]): Promise<string[]> {
    keyIds.forEach(checkKeyId);
    const forgotten: string[] = [];
    // Chunks keep every statement within SQLite's and PostgreSQL's parameter limits; key_id is unique (indexed).
    for (let start = 0; start < keyIds.length; start += 500) {
      const chunk = keyIds.slice(start, start + 500);
      const p = new SqlParameters(this.sql);
      const rows = await this.read(async (manager) =>
        (
          await executeSql<{ key_id: string }>(
            manager,
            `SELECT key_id FROM ${this.tables.dataKeys} WHERE wrapped_key IS NULL AND key_id IN (${chunk.map((id) => p.add(id)).join(', ')})`,
            p.values,
          )
        ).rows,
      );
      forgotten.push(...rows.map((row) => row.key_id));
    }
    return forgotten;
  }

  /**
   * A read of the key table: inside the caller's transaction `tx` when given (a rebuild opening
   * the events it replays; on SQLite waiting for the write lock there would wait for itself), else
   * on a connection of its own. It reads committed keys (such a transaction does not write this
   * table) and at worst a forget made by that same transaction.
   */
  private read<T>(work: (manager: EntityManager) => Promise<T>, tx?: EntityManager): Promise<T> {
    return tx ? work(tx) : runRead(this.dataSource, work);
  }

  private async select(column: 'subject' | 'key_id', value: string, tx?: EntityManager): Promise<KeyRow | undefined> {
    return this.read(async (manager) => {
      const p = new SqlParameters(this.sql);
      const { rows } = await executeSql<KeyRow>(manager, `SELECT ${COLUMNS} FROM ${this.tables.dataKeys} WHERE ${column} = ${p.add(value)}`, p.values);
      return rows[0];
    }, tx);
  }

  private lookup(row: KeyRow): DataKeyLookup {
    if (row.wrapped_key === null || row.master_key_id === null) {
      return { state: 'forgotten', keyId: row.key_id, subject: row.subject, forgottenAt: this.sql.decodeTimestamp(row.forgotten_at) };
    }
    return {
      state: 'active',
      keyId: row.key_id,
      subject: row.subject,
      key: this.ring.unwrap(row.key_id, { masterKeyId: row.master_key_id, wrapped: row.wrapped_key }),
    };
  }
}
