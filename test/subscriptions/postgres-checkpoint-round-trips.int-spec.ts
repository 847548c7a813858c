import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import { CheckpointLeaseLostError } from '@chronicle/core';
import { TypeOrmCheckpointStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/**
 * The queries a checkpoint step sends on PostgreSQL, one string per round trip, as the
 * DataSource's logger sees them (TypeORM's own statements and the one-string transaction start).
 */
await describePostgres('TypeOrmCheckpointStore on PostgreSQL: round trips of a checkpoint step', () => {
  let database: TestDatabase;
  let store: TypeOrmCheckpointStore;
  let sent: string[];
  let markers: string;

  beforeEach(async () => {
    database = await openPostgresSchema();
    store = new TypeOrmCheckpointStore(database.dataSource, database.tables);
    markers = `"${database.tables.schema}".round_trip_markers`;
    await database.dataSource.query(`CREATE TABLE ${markers} (marker text NOT NULL PRIMARY KEY)`);
    await store.acquire('rt', 'owner', 60_000);
    sent = [];
    const logger = database.dataSource.logger;
    const logQuery = logger.logQuery.bind(logger);
    logger.logQuery = (query, parameters, runner) => {
      sent.push(query);
      return logQuery(query, parameters, runner);
    };
  });

  afterEach(async () => {
    await database.close();
  });

  const write = (marker: string) => async (tx: EntityManager) => {
    await tx.query(`INSERT INTO ${markers} (marker) VALUES ($1)`, [marker]);
  };
  const readMarkers = async () => ((await database.dataSource.query(`SELECT marker FROM ${markers} ORDER BY marker`)) as Array<{ marker: string }>).map((row) => row.marker);

  it('a step with work: START TRANSACTION and the fenced update in one query, the work, COMMIT', async () => {
    await store.advance({ name: 'rt', owner: 'owner', from: null, to: '1' }, write('a'));
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(/^START TRANSACTION;\nUPDATE .*checkpoints"? SET position = '1'.* WHERE name = 'rt' AND lease_owner = 'owner' AND position IS NOT DISTINCT FROM NULL RETURNING name$/s);
    expect(sent[1]).toContain('round_trip_markers');
    expect(sent[2]).toBe('COMMIT');
    expect(await readMarkers()).toEqual(['a']);
    expect((await store.load('rt'))?.position).toBe('1');
  });

  it('a step with nothing to write: one fenced UPDATE, no transaction block', async () => {
    await store.advance({ name: 'rt', owner: 'owner', from: null, to: '1' });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^UPDATE .*checkpoints"? SET position = \$1/);
  });

  it('a lost lease: the work never runs, the step rolls back, the connection is left outside any transaction', async () => {
    let ran = false;
    await expect(
      store.advance({ name: 'rt', owner: 'someone else', from: null, to: '1' }, async (tx) => {
        ran = true;
        await write('b')(tx);
      }),
    ).rejects.toBeInstanceOf(CheckpointLeaseLostError);
    expect(ran).toBe(false);
    expect(sent[sent.length - 1]).toBe('ROLLBACK');
    // Every pooled connection is usable and outside a transaction block: the next steps commit.
    for (let i = 0; i < 12; i++) await store.advance({ name: 'rt', owner: 'owner', from: i === 0 ? null : String(i), to: String(i + 1) }, write(`m${String(i).padStart(2, '0')}`));
    expect((await store.load('rt'))?.position).toBe('12');
    expect(await readMarkers()).toHaveLength(12);
  });

  it('values no literal can carry go as bound parameters (a NUL in the last error fails in PostgreSQL, as before)', async () => {
    await store.advance({ name: 'rt', owner: 'owner', from: null, to: "it's \\ 1", lastError: 'quote \' and backslash \\' }, write('q'));
    expect(await store.load('rt')).toMatchObject({ position: "it's \\ 1", lastError: 'quote \' and backslash \\' });
    sent = [];
    await expect(store.advance({ name: 'rt', owner: 'owner', from: "it's \\ 1", to: '2', lastError: 'nul \0 here' }, write('r'))).rejects.toThrow();
    expect(sent[0]).toMatch(/^START TRANSACTION$/);
    expect((await store.load('rt'))?.position).toBe("it's \\ 1");
    expect(await readMarkers()).toEqual(['q']);
  });

  it('a savepoint inside the step (CheckpointStore.nested) and a failed work roll back as before', async () => {
    await store.advance({ name: 'rt', owner: 'owner', from: null, to: '1' }, async (tx) => {
      await write('kept')(tx);
      await expect(
        store.nested(tx, async () => {
          await write('dropped')(tx);
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
    });
    expect(sent).toContain('SAVEPOINT typeorm_1');
    expect(await readMarkers()).toEqual(['kept']);
    await expect(
      store.advance({ name: 'rt', owner: 'owner', from: '1', to: '2' }, async (tx) => {
        await write('lost')(tx);
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect(await readMarkers()).toEqual(['kept']);
    expect((await store.load('rt'))?.position).toBe('1');
  });
});
