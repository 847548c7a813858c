import { afterEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ConfigurationError } from '@chronicle/core';
import { chronicleMigrationLockKeys, createChronicleMigrations, runChronicleMigrations, TypeOrmJournal } from '@chronicle/typeorm';
import { createSchema, describePostgres, POSTGRES_URL, uniqueSchemaName } from '../support/services.js';

const JOURNAL_MIGRATION = 'ChronicleJournalTables1767225600000';
const OUTBOX_MIGRATION = 'ChronicleOutboxTables1767312000000';
const SUBSCRIPTION_MIGRATION = 'ChronicleSubscriptionTables1767398400000';
const KEY_MIGRATION = 'ChronicleKeyTables1767571200000';
const DECISION_MIGRATION = 'ChronicleDecisionIndexes1767657600000';
const MIGRATIONS = [JOURNAL_MIGRATION, OUTBOX_MIGRATION, SUBSCRIPTION_MIGRATION, KEY_MIGRATION, DECISION_MIGRATION];
/** The bookkeeping rows as `ORDER BY name` lists them. */
const MIGRATION_ROWS = [...MIGRATIONS].sort().map((name) => ({ name }));
const TABLES = [
  'checkpoints',
  'commands',
  'data_keys',
  'events',
  'inbox',
  'migrations',
  'outbox',
  'outbox_handlers',
  'parked_events',
  'saga_deadlines',
  'saga_states',
  'snapshots',
  'streams',
];
/** SQLite has no index on the elements of a JSON array: the tags side table serves tag queries. */
const SQLITE_TABLES = [...TABLES, 'event_tags'].sort();
const SQLITE_INDEXES = [
  'commands_recorded_at_idx',
  'data_keys_master_idx',
  'events_type_idx',
  'inbox_processed_at_idx',
  'outbox_claim_idx',
  'outbox_dead_letter_idx',
  'outbox_published_idx',
  'parked_events_stream_idx',
  'saga_deadlines_due_idx',
  'saga_deadlines_fired_idx',
  'saga_deadlines_instance_idx',
  'saga_states_ended_idx',
  'saga_states_status_idx',
  'streams_type_idx',
];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sqlite(): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
  await dataSource.initialize();
  cleanups.push(() => dataSource.destroy());
  return dataSource;
}

async function postgres(options: { migrations?: boolean } = {}, schema?: string): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: POSTGRES_URL,
    ...(options.migrations ? { migrations: createChronicleMigrations(schema === undefined ? {} : { schema }), migrationsTableName: 'typeorm_migrations' } : {}),
    ...(schema === undefined ? {} : { schema }),
  });
  await dataSource.initialize();
  cleanups.push(() => dataSource.destroy());
  return dataSource;
}

async function freshSchema(): Promise<string> {
  const schema = uniqueSchemaName('chr_mig');
  const drop = await createSchema(schema);
  cleanups.push(drop);
  return schema;
}

async function sqliteObjects(dataSource: DataSource): Promise<{ tables: string[]; indexes: string[] }> {
  const rows = (await dataSource.query(
    "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name",
  )) as Array<{ type: string; name: string }>;
  return {
    tables: rows.filter((row) => row.type === 'table').map((row) => row.name),
    indexes: rows.filter((row) => row.type === 'index').map((row) => row.name),
  };
}

describe('Chronicle migrations on SQLite', () => {
  it('create the tables and indexes with the default prefix, and a second run is a no-op', async () => {
    const dataSource = await sqlite();
    expect(await runChronicleMigrations(dataSource)).toEqual(MIGRATIONS);
    expect(await sqliteObjects(dataSource)).toEqual({
      tables: SQLITE_TABLES.map((table) => `chronicle_${table}`),
      indexes: SQLITE_INDEXES.map((index) => `chronicle_${index}`),
    });

    expect(await runChronicleMigrations(dataSource)).toEqual([]);
    expect(await dataSource.query('SELECT name FROM chronicle_migrations ORDER BY name')).toEqual(MIGRATION_ROWS);
  });

  it('use a custom prefix for every table and index, leaving the default names free', async () => {
    const dataSource = await sqlite();
    expect(await runChronicleMigrations(dataSource, { tablePrefix: 'app_es_' })).toEqual(MIGRATIONS);
    expect(await sqliteObjects(dataSource)).toEqual({
      tables: SQLITE_TABLES.map((table) => `app_es_${table}`),
      indexes: SQLITE_INDEXES.map((index) => `app_es_${index}`),
    });
    // A second prefix in the same database is a separate set of tables with its own bookkeeping.
    expect(await runChronicleMigrations(dataSource)).toEqual(MIGRATIONS);
    const journal = new TypeOrmJournal(dataSource, { tablePrefix: 'app_es_' });
    await journal.append({
      writes: [{ streamId: 's', aggregateType: 't', expectedVersion: 0, events: [{ eventId: 'e1', type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: [], occurredAt: new Date() }] }],
    });
    expect(await dataSource.query('SELECT count(*) AS n FROM app_es_events')).toEqual([{ n: 1 }]);
    expect(await dataSource.query('SELECT count(*) AS n FROM chronicle_events')).toEqual([{ n: 0 }]);
  });

  it('fill the tags side table from the events stored before the decision migration, then from every insert', async () => {
    const dataSource = await sqlite();
    const [Journal, Outbox, Subscriptions, Keys] = createChronicleMigrations();
    await runChronicleMigrations(dataSource, { migrations: [Journal!, Outbox!, Subscriptions!, Keys!] });
    const journal = new TypeOrmJournal(dataSource);
    const event = (eventId: string, tags: string[]) => ({ eventId, type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags, occurredAt: new Date() });
    await journal.append({ writes: [{ streamId: 's', aggregateType: 't', expectedVersion: 0, events: [event('e1', ['a', 'b']), event('e2', [])] }] });
    expect(await runChronicleMigrations(dataSource)).toEqual([DECISION_MIGRATION]);
    await journal.append({ writes: [{ streamId: 's', aggregateType: 't', expectedVersion: 2, events: [event('e3', ['b'])] }] });
    expect(await dataSource.query('SELECT tag, position FROM chronicle_event_tags ORDER BY tag, position')).toEqual([
      { tag: 'a', position: 1 },
      { tag: 'b', position: 1 },
      { tag: 'b', position: 3 },
    ]);
    expect((await journal.readByQuery([{ tags: ['b'] }])).events.map((recorded) => recorded.eventId)).toEqual(['e1', 'e3']);
  });

  it('roll back a failing migration together with its bookkeeping row', async () => {
    const dataSource = await sqlite();
    class Broken1767225600001 {
      readonly name = 'Broken1767225600001';
      async up(queryRunner: import('typeorm').QueryRunner): Promise<void> {
        await queryRunner.query('CREATE TABLE half_done (id INTEGER)');
        await queryRunner.query('THIS IS NOT SQL');
      }
      async down(): Promise<void> {}
    }
    await expect(runChronicleMigrations(dataSource, { migrations: [Broken1767225600001] })).rejects.toThrow(/syntax error/);
    expect((await sqliteObjects(dataSource)).tables).toEqual([]);
  });

  it('refuse a prefix that would make invalid identifiers, naming it', async () => {
    const dataSource = await sqlite();
    await expect(runChronicleMigrations(dataSource, { tablePrefix: 'bad-prefix;' })).rejects.toThrow(ConfigurationError);
    await expect(runChronicleMigrations(dataSource, { tablePrefix: 'bad-prefix;' })).rejects.toThrow(/"bad-prefix;"/);
    expect((await sqliteObjects(dataSource)).tables).toEqual([]);
  });

  it('are undone by down(), newest first, each dropping only its own tables', async () => {
    const dataSource = await sqlite();
    await runChronicleMigrations(dataSource);
    const [Journal, Outbox, Subscriptions, Keys, Decisions] = createChronicleMigrations();
    await new Decisions!().down(dataSource.createQueryRunner());
    expect((await sqliteObjects(dataSource)).tables).toEqual(TABLES.map((table) => `chronicle_${table}`));
    // The trigger went with its side table: appends still work.
    await new TypeOrmJournal(dataSource).append({
      writes: [{ streamId: 's', aggregateType: 't', expectedVersion: 0, events: [{ eventId: 'e1', type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: ['a'], occurredAt: new Date() }] }],
    });
    await new Keys!().down(dataSource.createQueryRunner());
    expect((await sqliteObjects(dataSource)).tables).not.toContain('chronicle_data_keys');
    await new Subscriptions!().down(dataSource.createQueryRunner());
    expect((await sqliteObjects(dataSource)).tables).toEqual(
      ['commands', 'events', 'inbox', 'migrations', 'outbox', 'outbox_handlers', 'snapshots', 'streams'].map((table) => `chronicle_${table}`),
    );
    await new Outbox!().down(dataSource.createQueryRunner());
    expect((await sqliteObjects(dataSource)).tables).toEqual(
      ['commands', 'events', 'migrations', 'snapshots', 'streams'].map((table) => `chronicle_${table}`),
    );
    await new Journal!().down(dataSource.createQueryRunner());
    expect((await sqliteObjects(dataSource)).tables).toEqual(['chronicle_migrations']);
  });
});

await describePostgres('Chronicle migrations on PostgreSQL', () => {
  async function pgObjects(dataSource: DataSource, schema: string): Promise<{ tables: string[]; indexes: string[] }> {
    const tables = (await dataSource.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    )) as Array<{ table_name: string }>;
    const indexes = (await dataSource.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname', [schema])) as Array<{
      indexname: string;
    }>;
    return { tables: tables.map((row) => row.table_name), indexes: indexes.map((row) => row.indexname) };
  }

  it('create the tables in a custom schema with a custom prefix, and a second run is a no-op', async () => {
    const schema = await freshSchema();
    const dataSource = await postgres();
    expect(await runChronicleMigrations(dataSource, { schema, tablePrefix: 'es_' })).toEqual(MIGRATIONS);
    expect(await pgObjects(dataSource, schema)).toEqual({
      tables: TABLES.map((table) => `es_${table}`),
      indexes: [
        'es_checkpoints_pk',
        'es_commands_pk',
        'es_commands_recorded_at_idx',
        'es_data_keys_key_id_uq',
        'es_data_keys_master_idx',
        'es_data_keys_pk',
        'es_events_event_id_uq',
        'es_events_pk',
        'es_events_stream_version_uq',
        'es_events_tags_idx',
        'es_events_tx_position_idx',
        'es_events_type_idx',
        'es_inbox_pk',
        'es_inbox_processed_at_idx',
        'es_migrations_pkey',
        'es_outbox_claim_idx',
        'es_outbox_dead_letter_idx',
        'es_outbox_handler_event_uq',
        'es_outbox_handlers_pk',
        'es_outbox_pk',
        'es_outbox_published_idx',
        'es_parked_events_pk',
        'es_parked_events_stream_idx',
        'es_saga_deadlines_due_idx',
        'es_saga_deadlines_fired_idx',
        'es_saga_deadlines_instance_idx',
        'es_saga_deadlines_pk',
        'es_saga_states_ended_idx',
        'es_saga_states_pk',
        'es_saga_states_status_idx',
        'es_snapshots_pk',
        'es_streams_pk',
        'es_streams_type_idx',
      ],
    });
    const [claimIndex] = (await dataSource.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'es_outbox_claim_idx'`, [
      schema,
    ])) as Array<{ indexdef: string }>;
    expect(claimIndex?.indexdef).toContain('(handler, stream_id, version) WHERE (published_at IS NULL)');
    const columns = (await dataSource.query(
      `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'es_events' AND column_name IN ('tx_id', 'payload', 'tags', 'position') ORDER BY column_name`,
      [schema],
    )) as Array<Record<string, string | null>>;
    expect(columns).toEqual([
      { column_name: 'payload', data_type: 'jsonb', is_nullable: 'NO', column_default: null },
      { column_name: 'position', data_type: 'bigint', is_nullable: 'NO', column_default: null },
      { column_name: 'tags', data_type: 'jsonb', is_nullable: 'NO', column_default: "'[]'::jsonb" },
      { column_name: 'tx_id', data_type: 'xid8', is_nullable: 'NO', column_default: 'pg_current_xact_id()' },
    ]);
    const [tagIndex] = (await dataSource.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'es_events_tags_idx'`, [
      schema,
    ])) as Array<{ indexdef: string }>;
    expect(tagIndex?.indexdef).toContain('USING gin (tags jsonb_path_ops)');

    expect(await runChronicleMigrations(dataSource, { schema, tablePrefix: 'es_' })).toEqual([]);
    expect(await dataSource.query(`SELECT name FROM "${schema}".es_migrations ORDER BY name`)).toEqual(MIGRATION_ROWS);
    // Nothing landed in the search_path schema.
    expect(await dataSource.query(`SELECT to_regclass('es_events') AS found`)).toEqual([{ found: null }]);
  });

  it('create a schema that does not exist yet', async () => {
    const schema = uniqueSchemaName('chr_mig_new');
    const dataSource = await postgres();
    cleanups.push(async () => {
      await dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    });
    expect(await runChronicleMigrations(dataSource, { schema })).toEqual(MIGRATIONS);
    expect((await pgObjects(dataSource, schema)).tables).toEqual(TABLES.map((table) => `chronicle_${table}`));
  });

  it('let several DataSources migrate at once: all succeed and each migration is recorded once', async () => {
    const schema = await freshSchema();
    const dataSources = await Promise.all([postgres(), postgres(), postgres(), postgres()]);
    const results = await Promise.all(dataSources.map((dataSource) => runChronicleMigrations(dataSource, { schema })));
    expect(results.flat()).toEqual(MIGRATIONS);
    expect(results.filter((applied) => applied.length === 0)).toHaveLength(3);
    expect(await dataSources[0]!.query(`SELECT name FROM "${schema}".chronicle_migrations ORDER BY name`)).toEqual(MIGRATION_ROWS);
    expect((await pgObjects(dataSources[0]!, schema)).tables).toEqual(TABLES.map((table) => `chronicle_${table}`));
  });

  it('take one lock for one schema whether a migrator names it or reaches it through its search_path, and the lock earlier builds took without a schema', async () => {
    const schema = await freshSchema();
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const viaSearchPath = new DataSource({ type: 'postgres', url: url.toString() });
    await viaSearchPath.initialize();
    cleanups.push(() => viaSearchPath.destroy());
    // Another migrator's session: one configured with the schema holds its lock, an earlier build
    // without a schema option holds the lock it took.
    const holder = (await postgres()).createQueryRunner();
    await holder.connect();
    cleanups.push(() => holder.release());
    const named = chronicleMigrationLockKeys({ schema });
    const earlier = chronicleMigrationLockKeys({});
    for (const keys of [earlier, named]) await holder.query('SELECT pg_advisory_lock($1, $2)', keys);
    const waitingFor = async ([lockClass, lockKey]: [number, number]): Promise<boolean> => {
      for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
        const rows = (await holder.query(
          "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2",
          [lockClass >>> 0, lockKey >>> 0],
        )) as unknown[];
        if (rows.length > 0) return true;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return false;
    };
    const migrating = runChronicleMigrations(viaSearchPath);
    expect(await waitingFor(earlier)).toBe(true);
    await holder.query('SELECT pg_advisory_unlock($1, $2)', earlier);
    expect(await waitingFor(named)).toBe(true);
    await holder.query('SELECT pg_advisory_unlock($1, $2)', named);
    expect(await migrating).toEqual(MIGRATIONS);
    expect((await pgObjects(viaSearchPath, schema)).tables).toEqual(TABLES.map((table) => `chronicle_${table}`));
  }, 30_000);

  it('are safe to list for the TypeORM CLI as well: its runner re-applies the idempotent DDL without error', async () => {
    const schema = await freshSchema();
    const dataSource = await postgres({ migrations: true }, schema);
    expect(await runChronicleMigrations(dataSource, { schema })).toEqual(MIGRATIONS);
    const ran = await dataSource.runMigrations();
    expect(ran.map((migration) => migration.name)).toEqual(MIGRATIONS);
    expect((await pgObjects(dataSource, schema)).tables).toEqual([...TABLES.map((table) => `chronicle_${table}`), 'typeorm_migrations']);
    expect(await runChronicleMigrations(dataSource, { schema })).toEqual([]);
  });
});
