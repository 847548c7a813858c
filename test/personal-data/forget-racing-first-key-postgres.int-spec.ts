import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { MasterKeyRing } from '@chronicle/core';
import { resolveChronicleTables, TypeOrmKeyStore } from '@chronicle/typeorm';
import { postgresDialect } from '../../libs/typeorm/src/dialects/postgres.dialect.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const MASTER = { current: { id: 'm1', key: Buffer.alloc(32, 7).toString('base64') } };

/*
 * `forget` racing the subject's first `keyFor` on PostgreSQL: the key row is inserted by another
 * connection and not yet committed when `forget` runs. An UPDATE cannot see that row and an
 * INSERT ... DO NOTHING waits for it and then does nothing: `forget` resolved with the key still
 * active (and an Invalid Date). It must wait for the insert and destroy the committed key, whatever
 * the DataSource's isolation level (under REPEATABLE READ an upsert on a row committed after its
 * snapshot fails to serialize).
 */
await describePostgres('TypeOrmKeyStore on PostgreSQL: forget racing the first key of its subject', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openPostgresSchema();
  });
  afterAll(async () => {
    await database.close();
  });

  async function forgetRacingFirstKey(dataSource: DataSource, subject: string): Promise<void> {
    const store = new TypeOrmKeyStore(dataSource, { ...database.tables, masterKeys: MASTER });
    await store.keyFor('warm-up'); // the table exists and the store works
    const other = await database.openAnother({ poolSize: 1 });
    const runner = other.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    const keyId = randomUUID();
    const wrapped = new MasterKeyRing(MASTER).wrap(keyId, randomBytes(32));
    const { dataKeys } = resolveChronicleTables(database.tables, postgresDialect);
    // What a first keyFor in another instance does, held open.
    await runner.query(
      `INSERT INTO ${dataKeys} (subject, key_id, master_key_id, wrapped_key, created_at) VALUES ($1, $2, $3, $4, now()) ON CONFLICT (subject) DO NOTHING`,
      [subject, keyId, wrapped.masterKeyId, wrapped.wrapped],
    );
    const forgetting = store.forget(subject);
    // Both the old and the new forget wait for the insert here; what tells them apart is below.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await runner.commitTransaction();
    await runner.release();
    const result = await forgetting;
    expect(Number.isNaN(result.forgottenAt.getTime())).toBe(false);
    expect(result.destroyedNow).toBe(true);
    expect((await store.keyFor(subject)).state).toBe('forgotten');
    expect((await store.keyById(keyId))?.state).toBe('forgotten');
    // A second forget reports the first one's time and destroys nothing.
    const again = await store.forget(subject);
    expect(again).toEqual({ subject, forgottenAt: result.forgottenAt, destroyedNow: false });
  }

  it('forget resolves only once the subject is forgotten, when its first key was being inserted meanwhile', async () => {
    await forgetRacingFirstKey(database.dataSource, 's-1');
  }, 30_000);

  it('does the same on a DataSource whose isolation level is REPEATABLE READ', async () => {
    const repeatable = new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize: 2, isolationLevel: 'REPEATABLE READ' });
    await repeatable.initialize();
    try {
      await forgetRacingFirstKey(repeatable, 's-2');
    } finally {
      await repeatable.destroy();
    }
  }, 30_000);
});
