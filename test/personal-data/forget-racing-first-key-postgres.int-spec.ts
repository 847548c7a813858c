import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { MasterKeyRing } from '@chronicle/core';
import { TypeOrmKeyStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const MASTER = { current: { id: 'm1', key: Buffer.alloc(32, 7).toString('base64') } };

/*
 * `forget` racing the subject's first `keyFor` on PostgreSQL: the key row is inserted by another
 * connection and not yet committed when `forget` runs. An UPDATE cannot see that row and an
 * INSERT ... DO NOTHING waits for it and then does nothing: `forget` resolved with the key still
 * active (and an Invalid Date). It must wait for the insert and destroy the committed key.
 */
await describePostgres('TypeOrmKeyStore on PostgreSQL: forget racing the first key of its subject', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openPostgresSchema();
  });
  afterAll(async () => {
    await database.close();
  });

  it('forget resolves only once the subject is forgotten, when its first key was being inserted meanwhile', async () => {
    const store = new TypeOrmKeyStore(database.dataSource, { ...database.tables, masterKeys: MASTER });
    await store.keyFor('warm-up'); // the table exists and the store works
    const other = await database.openAnother({ poolSize: 1 });
    const runner = other.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    const keyId = randomUUID();
    const wrapped = new MasterKeyRing(MASTER).wrap(keyId, randomBytes(32));
    // What a first keyFor in another instance does, held open.
    await runner.query(
      `INSERT INTO "${database.tables.schema!}"."chronicle_data_keys" (subject, key_id, master_key_id, wrapped_key, created_at) VALUES ($1, $2, $3, $4, now()) ON CONFLICT (subject) DO NOTHING`,
      ['s-1', keyId, wrapped.masterKeyId, wrapped.wrapped],
    );
    const forgetting = store.forget('s-1');
    // forget must be waiting for the insert's row lock, not resolved on what it could not see.
    const early = await Promise.race([forgetting.then(() => 'resolved'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 300))]);
    await runner.commitTransaction();
    await runner.release();
    const result = await forgetting;
    expect(early).toBe('waiting');
    expect(Number.isNaN(result.forgottenAt.getTime())).toBe(false);
    expect(result.destroyedNow).toBe(true);
    expect((await store.keyFor('s-1')).state).toBe('forgotten');
    expect((await store.keyById(keyId))?.state).toBe('forgotten');
    // A second forget reports the first one's time and destroys nothing.
    const again = await store.forget('s-1');
    expect(again).toEqual({ subject: 's-1', forgottenAt: result.forgottenAt, destroyedNow: false });
  }, 30_000);
});
