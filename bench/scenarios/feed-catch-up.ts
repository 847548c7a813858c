import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import {
  AggregateCatalog,
  EventSerializer,
  ProjectionHandler,
  SubscriptionRunner,
  type ChronicleLogger,
  type NewEvent,
  type StreamWrite,
  type SubscriptionHandler,
  type SubscriptionStepResult,
} from '@chronicle/core';
import { DEFAULT_TABLE_PREFIX, TypeOrmCheckpointStore, TypeOrmJournal, runChronicleMigrations } from '@chronicle/typeorm';
import { BenchLedger, Posted } from '../domain/bench-ledger.aggregate.js';
import { LedgerTotalsProjection } from '../domain/ledger-totals.projection.js';
import { postgresCpuMs } from '../support/db-cpu.js';
import { POSTGRES_URL, freshSchema } from '../support/postgres.js';
import { RssSampler } from '../support/rss-sampler.js';
import { formatRatio, mb, ratio, round, summarize } from '../support/stats.js';
import type { ResultChart, ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

type Store = 'postgres' | 'sqlite';
type Variant = 'baseline' | 'chronicle' | 'baseline projection' | 'chronicle projection' | 'chronicle batch projection';

/** The default page of a subscription (`SubscriptionOptions.batchSize`), and the larger one measured beside it. */
const DEFAULT_BATCH = 1_000;
const LARGE_BATCH = 5_000;
/** The no-op target on PostgreSQL, at the default batch size. */
const TARGET_EVENTS_PER_SEC = 100_000;
/** The no-op targets against the hand-written reader, at the default page. */
const TARGET_RATIO = { postgres: 0.9, sqlite: 0.7 } as const;
/** The batch projection's target against the hand-written one-upsert-per-event projection. */
const TARGET_BATCH_PROJECTION_RATIO = 5;

/** One catch-up from an empty checkpoint to the end of the feed (or several, merged). */
interface CatchUp {
  store: Store;
  variant: Variant;
  batchSize: number;
  /** Catch-ups merged into this figure (rounds). */
  catchUps: number;
  /** Events delivered, over all catch-ups. */
  events: number;
  /** Time of all catch-ups together. */
  elapsedMs: number;
  eventsPerSec: number;
  /** Pages that delivered events. */
  pages: number;
  pageP50Ms: number;
  pageP99Ms: number;
  pageMaxMs: number;
  /** p50 of the feed read of a page (Journal.readAll; the baseline's SELECT). */
  readP50Ms: number;
  /** p50 of the checkpoint transaction of a page, the handler's work included (CheckpointStore.advance; the baseline's BEGIN … COMMIT). */
  commitP50Ms: number;
  peakRssMb: number;
  /** CPU of this process over the catch-up, % of one core. */
  cpuPct: number;
  /** CPU of the local PostgreSQL server's processes over the catch-up, % of one core (PostgreSQL only). */
  dbCpuPct?: number;
  /** When the figure merges several rounds: each round's events per second. */
  roundEventsPerSec?: number[];
}

/** Events delivered by a catch-up, and its latencies: per page, and of each page's read and checkpoint transaction. */
interface PageTimes {
  events: number;
  pageMs: number[];
  readMs: number[];
  commitMs: number[];
}

/** What one timed catch-up hands back before the figures are computed. */
interface Timed extends PageTimes {
  elapsedMs: number;
  peakRssBytes: number;
  cpuMs: number;
  dbCpuMs?: number;
}

const quiet: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** Times `work` (which returns the events it delivered and its per-page latencies): wall, RSS peak, CPU. */
async function timed(store: Store, work: () => Promise<PageTimes>): Promise<Timed> {
  const sampler = new RssSampler(25).start();
  const dbAtStart = store === 'postgres' ? postgresCpuMs() : undefined;
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  const pages = await work();
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuAtStart);
  const dbAtEnd = dbAtStart === undefined ? undefined : postgresCpuMs();
  return {
    ...pages,
    elapsedMs,
    peakRssBytes: sampler.stop(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    ...(dbAtStart === undefined || dbAtEnd === undefined ? {} : { dbCpuMs: dbAtEnd - dbAtStart }),
  };
}

function figures(store: Store, variant: Variant, batchSize: number, rounds: Timed[]): CatchUp {
  const events = rounds.reduce((sum, r) => sum + r.events, 0);
  const elapsedMs = rounds.reduce((sum, r) => sum + r.elapsedMs, 0);
  const pages = summarize(rounds.flatMap((r) => r.pageMs));
  const dbCpu = rounds.every((r) => r.dbCpuMs !== undefined) ? rounds.reduce((sum, r) => sum + r.dbCpuMs!, 0) : undefined;
  return {
    store,
    variant,
    batchSize,
    catchUps: rounds.length,
    events,
    elapsedMs,
    eventsPerSec: (events / elapsedMs) * 1000,
    pages: pages.n,
    pageP50Ms: pages.p50,
    pageP99Ms: pages.p99,
    pageMaxMs: pages.max,
    readP50Ms: summarize(rounds.flatMap((r) => r.readMs)).p50,
    commitP50Ms: summarize(rounds.flatMap((r) => r.commitMs)).p50,
    peakRssMb: mb(Math.max(...rounds.map((r) => r.peakRssBytes))),
    cpuPct: (rounds.reduce((sum, r) => sum + r.cpuMs, 0) / elapsedMs) * 100,
    ...(dbCpu === undefined ? {} : { dbCpuPct: (dbCpu / elapsedMs) * 100 }),
    ...(rounds.length > 1 ? { roundEventsPerSec: rounds.map((r) => (r.events / r.elapsedMs) * 1000) } : {}),
  };
}

/**
 * Writes Posted events over `streams` streams through `TypeOrmJournal.append`, `unit` events per
 * append (every stream gets a few events per append, so the streams interleave in the feed), in as
 * many calls of `fill` as wanted, each continuing the streams where the last one stopped. Amounts
 * vary (1–9); `sums` holds each stream's sum so far, which the projections must reproduce.
 */
class Prefill {
  readonly sums: Map<string, number>;
  written = 0;
  elapsedMs = 0;
  private readonly ids: string[];
  private readonly versions: Map<string, number>;
  private cursor = 0;

  constructor(
    private readonly journal: TypeOrmJournal,
    private readonly serializer: EventSerializer,
    streams: number,
    private readonly unit: number,
  ) {
    this.ids = Array.from({ length: streams }, (_, i) => `feed-${String(i).padStart(6, '0')}`);
    this.versions = new Map(this.ids.map((id) => [id, 0]));
    this.sums = new Map(this.ids.map((id) => [id, 0]));
  }

  /** Appends `count` more events. */
  async fill(count: number): Promise<void> {
    const started = performance.now();
    const perStreamPerAppend = Math.max(1, Math.floor(this.unit / this.ids.length));
    let left = count;
    while (left > 0) {
      const commandId = randomUUID();
      const metadata = { commandId, correlationId: commandId, causationId: commandId };
      const now = new Date();
      const writes: StreamWrite[] = [];
      let budget = Math.min(this.unit, left);
      const seen = new Set<string>();
      while (budget > 0) {
        const id = this.ids[this.cursor % this.ids.length]!;
        if (seen.has(id)) break;
        seen.add(id);
        this.cursor++;
        const n = Math.min(perStreamPerAppend, budget);
        const expectedVersion = this.versions.get(id)!;
        const batch: NewEvent[] = [];
        for (let k = 1; k <= n; k++) {
          const amount = 1 + ((expectedVersion + k + this.cursor) % 9);
          this.sums.set(id, this.sums.get(id)! + amount);
          batch.push(this.serializer.serialize(new Posted(id, amount), metadata, now));
        }
        writes.push({ streamId: id, aggregateType: 'ledger', expectedVersion, events: batch });
        this.versions.set(id, expectedVersion + n);
        budget -= n;
        left -= n;
        this.written += n;
      }
      await this.journal.append({ writes });
    }
    this.elapsedMs += performance.now() - started;
  }
}

/** `target` with `method` timed into `samples` (every other member passes through, bound to `target`). */
function timedMethod<T extends object>(target: T, method: keyof T & string, samples: number[]): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(object);
      if (property !== method) return bound;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await bound(...args);
        } finally {
          samples.push(performance.now() - started);
        }
      };
    },
  });
}

/**
 * A runner from an empty checkpoint to caught up, through `drain()`. Every `runOnce` that delivers
 * is timed as a page; the journal's `readAll` and the store's `advance` are timed inside it.
 */
async function chronicleCatchUp(
  journal: TypeOrmJournal,
  store: TypeOrmCheckpointStore,
  serializer: EventSerializer,
  handler: SubscriptionHandler<EntityManager>,
  name: string,
  batchSize: number,
): Promise<PageTimes> {
  const times: PageTimes = { events: 0, pageMs: [], readMs: [], commitMs: [] };
  const runner = new SubscriptionRunner<EntityManager>(
    { journal: timedMethod(journal, 'readAll', times.readMs), store: timedMethod(store, 'advance', times.commitMs), serializer, logger: quiet },
    handler,
    { name, batchSize },
  );
  let lastStep: SubscriptionStepResult | undefined;
  const step = runner.runOnce.bind(runner);
  // drain() calls this.runOnce(): timing it here times the runner's own pages.
  runner.runOnce = async () => {
    const started = performance.now();
    const result = await step();
    if (result.handled > 0) times.pageMs.push(performance.now() - started);
    times.events += result.handled;
    lastStep = result;
    return result;
  };
  try {
    await runner.drain();
  } finally {
    await runner.stop();
  }
  if (!lastStep?.active) {
    const status = await store.load(name);
    throw new Error(
      `subscription "${name}" stopped before catching up (it lost or never got its lease) after ${times.events} events; ` +
        `stored checkpoint: ${JSON.stringify(status ?? null)}`,
    );
  }
  return times;
}

/** A no-op subscription: wants every event, does nothing with it. */
const noop: SubscriptionHandler<EntityManager> = { types: '*', handle: async () => undefined };

/** A projection: per event, one upsert of its stream's total through the checkpoint's transaction. */
function totalsProjection(table: string, placeholders: (a: number) => string): SubscriptionHandler<EntityManager> {
  const sql =
    `INSERT INTO ${table} AS t (stream_id, total) VALUES (${placeholders(1)}, ${placeholders(2)}) ` +
    'ON CONFLICT (stream_id) DO UPDATE SET total = t.total + EXCLUDED.total';
  return {
    types: new Set(['ledger.posted']),
    handle: async (event, envelope) => {
      if (!(event instanceof Posted)) throw new Error(`expected a Posted event, got ${event.constructor.name}`);
      const amount = event.amount;
      return async (tx) => {
        await tx.query(sql, [envelope.streamId, amount]);
      };
    },
  };
}

/** Compares a totals table with the prefilled sums; throws naming the first difference. */
function verifyTotals(label: string, rows: Array<{ stream_id: string; total: unknown }>, sums: Map<string, number>): void {
  const found = new Map(rows.map((row) => [row.stream_id, Number(row.total)]));
  const expected = [...sums].filter(([, sum]) => sum > 0);
  if (found.size !== expected.length) throw new Error(`${label}: the totals table has ${found.size} streams, expected ${expected.length}`);
  for (const [streamId, sum] of expected) {
    if (found.get(streamId) !== sum) throw new Error(`${label}: stream ${streamId} totals ${String(found.get(streamId))}, expected ${sum}`);
  }
}

/**
 * The hand-written PostgreSQL catch-up: keyset pages of the events table; per page, one
 * transaction with the checkpoint UPDATE (and, for the projection, one upsert per event before it).
 */
async function pgBaseline(client: pg.Client, schema: string, name: string, page: number, upsertTable?: string): Promise<PageTimes> {
  const s = `"${schema}"`;
  await client.query(`INSERT INTO ${s}.base_checkpoints (name, position) VALUES ($1, 0)`, [name]);
  const select =
    `SELECT position, stream_id, version, type, payload, metadata FROM ${s}."${DEFAULT_TABLE_PREFIX}events" ` +
    'WHERE position > $1 ORDER BY position LIMIT $2';
  const upsert = upsertTable
    ? `INSERT INTO ${s}.${upsertTable} AS t (stream_id, total) VALUES ($1, $2) ON CONFLICT (stream_id) DO UPDATE SET total = t.total + EXCLUDED.total`
    : undefined;
  const times: PageTimes = { events: 0, pageMs: [], readMs: [], commitMs: [] };
  let position = 0;
  for (;;) {
    const started = performance.now();
    const { rows } = await client.query<{ position: string; stream_id: string; version: number; type: string; payload: unknown; metadata: unknown }>(
      select,
      [position, page],
    );
    if (rows.length === 0) break;
    const read = performance.now();
    times.readMs.push(read - started);
    const amounts: number[] = [];
    for (const row of rows) {
      // jsonb comes back parsed by the driver: that is the decoding a hand-written reader gets.
      const payload = row.payload as { amount?: unknown };
      if (typeof payload.amount !== 'number' || typeof row.metadata !== 'object') throw new Error(`unexpected row at ${row.position}`);
      amounts.push(payload.amount);
    }
    const committing = performance.now();
    await client.query('BEGIN');
    try {
      if (upsert) for (let i = 0; i < rows.length; i++) await client.query(upsert, [rows[i]!.stream_id, amounts[i]]);
      position = Number(rows[rows.length - 1]!.position);
      await client.query(`UPDATE ${s}.base_checkpoints SET position = $2 WHERE name = $1`, [name, position]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const done = performance.now();
    times.commitMs.push(done - committing);
    times.pageMs.push(done - started);
    times.events += rows.length;
    if (rows.length < page) break;
  }
  return times;
}

/** The hand-written SQLite catch-up on its own better-sqlite3 connection to the same file. */
function sqliteBaseline(db: Database.Database, name: string, page: number): PageTimes {
  db.prepare('INSERT INTO base_checkpoints (name, position) VALUES (?, 0)').run(name);
  const select = db.prepare<[number, number], { position: number; stream_id: string; version: number; type: string; payload: string; metadata: string }>(
    `SELECT position, stream_id, version, type, payload, metadata FROM "${DEFAULT_TABLE_PREFIX}events" WHERE position > ? ORDER BY position LIMIT ?`,
  );
  const update = db.prepare('UPDATE base_checkpoints SET position = ? WHERE name = ?');
  const checkpoint = db.transaction((position: number) => update.run(position, name));
  const times: PageTimes = { events: 0, pageMs: [], readMs: [], commitMs: [] };
  let position = 0;
  for (;;) {
    const started = performance.now();
    const rows = select.all(position, page);
    if (rows.length === 0) break;
    times.readMs.push(performance.now() - started);
    for (const row of rows) {
      const payload = JSON.parse(row.payload) as { amount?: unknown };
      const metadata = JSON.parse(row.metadata) as unknown;
      if (typeof payload.amount !== 'number' || typeof metadata !== 'object') throw new Error(`unexpected row at ${row.position}`);
    }
    position = rows[rows.length - 1]!.position;
    const committing = performance.now();
    checkpoint(position);
    const done = performance.now();
    times.commitMs.push(done - committing);
    times.pageMs.push(done - started);
    times.events += rows.length;
    if (rows.length < page) break;
  }
  return times;
}

interface StoreRun {
  results: CatchUp[];
  prefillMs: number;
  prefilled: number;
  settings: Record<string, unknown>;
}

async function openDataSource(store: Store, target: string, poolSize: number): Promise<DataSource> {
  const dataSource =
    store === 'postgres'
      ? // `driver` explicitly, as the demo does: TypeORM's own require('pg') fails under some ESM loaders.
        new DataSource({ type: 'postgres', driver: pg, url: POSTGRES_URL, poolSize })
      : new DataSource({ type: 'better-sqlite3', database: target, enableWAL: true });
  await dataSource.initialize();
  await runChronicleMigrations(dataSource, store === 'postgres' ? { schema: target } : {});
  return dataSource;
}

function expectEvents(label: string, got: number, expected: number): void {
  if (got !== expected) throw new Error(`${label} delivered ${got} events, expected ${expected}`);
}

async function measurePostgres(context: ScenarioContext, serializer: EventSerializer): Promise<StoreRun> {
  const { events, projectionEvents, streams, prefillUnit, rounds, poolSize } = context.params.feedCatchUp;
  const schema = await freshSchema(`${context.mode}_feed`);
  const s = `"${schema.schema}"`;
  let dataSource: DataSource | undefined;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  try {
    dataSource = await openDataSource('postgres', schema.schema, poolSize);
    const tables = { schema: schema.schema };
    const journal = new TypeOrmJournal(dataSource, tables);
    const store = new TypeOrmCheckpointStore(dataSource, tables);
    const filler = new Prefill(journal, serializer, streams, prefillUnit);
    await client.connect();
    await client.query(`CREATE TABLE ${s}.base_checkpoints (name text PRIMARY KEY, position bigint NOT NULL)`);
    for (const table of ['base_totals', 'chr_totals', 'chr_batch_totals']) {
      await client.query(`CREATE TABLE ${s}.${table} (stream_id text PRIMARY KEY, total bigint NOT NULL)`);
    }
    const perSec = (t: Timed) => Math.round((t.events / t.elapsedMs) * 1000);
    // Fresh statistics and one untimed pass, so every measured variant reads a warm cache.
    const settle = async (): Promise<void> => {
      await client.query(`VACUUM ANALYZE ${s}."${DEFAULT_TABLE_PREFIX}events"`);
      await pgBaseline(client, schema.schema, `warm-up-${filler.written}`, DEFAULT_BATCH);
    };

    // The projections, on the first `projectionEvents` events.
    await filler.fill(Math.min(projectionEvents, events));
    context.log(`postgres: prefilled ${filler.written} events over ${streams} streams in ${Math.round(filler.elapsedMs)} ms`);
    await settle();
    const projected = filler.written;
    const sums = new Map(filler.sums);
    const baseProjection = await timed('postgres', () => pgBaseline(client, schema.schema, 'base-projection', DEFAULT_BATCH, 'base_totals'));
    expectEvents('the baseline projection', baseProjection.events, projected);
    verifyTotals('the baseline projection', (await client.query<{ stream_id: string; total: string }>(`SELECT stream_id, total FROM ${s}.base_totals`)).rows, sums);
    const projection = totalsProjection(`${s}.chr_totals`, (n) => `$${n}`);
    const chrProjection = await timed('postgres', () => chronicleCatchUp(journal, store, serializer, projection, 'bench-projection', DEFAULT_BATCH));
    expectEvents('the projection', chrProjection.events, projected);
    verifyTotals('the Chronicle projection', (await client.query<{ stream_id: string; total: string }>(`SELECT stream_id, total FROM ${s}.chr_totals`)).rows, sums);
    const batchProjection = new ProjectionHandler<EntityManager>(new LedgerTotalsProjection(`${s}.chr_batch_totals`));
    const chrBatchProjection = await timed('postgres', () => chronicleCatchUp(journal, store, serializer, batchProjection, 'bench-batch-projection', DEFAULT_BATCH));
    expectEvents('the batch projection', chrBatchProjection.events, projected);
    verifyTotals(
      'the Chronicle batch projection',
      (await client.query<{ stream_id: string; total: string }>(`SELECT stream_id, total FROM ${s}.chr_batch_totals`)).rows,
      sums,
    );
    context.log(
      `postgres projection over ${projected} events: baseline ${perSec(baseProjection)} events/s, chronicle ${perSec(chrProjection)} events/s, ` +
        `chronicle batch ${perSec(chrBatchProjection)} events/s; totals verified`,
    );

    // The no-op catch-ups, on all `events`.
    if (filler.written < events) {
      await filler.fill(events - filler.written);
      context.log(`postgres: prefilled up to ${filler.written} events in ${Math.round(filler.elapsedMs)} ms in all`);
      await settle();
    }
    const written = filler.written;
    const noopRounds: Record<string, Timed[]> = { baseline: [], [DEFAULT_BATCH]: [], [LARGE_BATCH]: [] };
    for (let pass = 1; pass <= rounds; pass++) {
      const base = await timed('postgres', () => pgBaseline(client, schema.schema, `base-${pass}`, DEFAULT_BATCH));
      expectEvents('the baseline', base.events, written);
      noopRounds.baseline!.push(base);
      for (const batchSize of [DEFAULT_BATCH, LARGE_BATCH]) {
        const run = await timed('postgres', () => chronicleCatchUp(journal, store, serializer, noop, `bench-noop-${batchSize}-${pass}`, batchSize));
        expectEvents(`the no-op subscription (batch ${batchSize})`, run.events, written);
        noopRounds[batchSize]!.push(run);
      }
      context.log(
        `postgres round ${pass}/${rounds}: baseline ${perSec(base)} events/s, no-op batch ${DEFAULT_BATCH} ${perSec(noopRounds[DEFAULT_BATCH]!.at(-1)!)}, ` +
          `batch ${LARGE_BATCH} ${perSec(noopRounds[LARGE_BATCH]!.at(-1)!)}`,
      );
    }
    const [syncCommit] = (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows;
    return {
      results: [
        figures('postgres', 'baseline', DEFAULT_BATCH, noopRounds.baseline!),
        figures('postgres', 'chronicle', DEFAULT_BATCH, noopRounds[DEFAULT_BATCH]!),
        figures('postgres', 'chronicle', LARGE_BATCH, noopRounds[LARGE_BATCH]!),
        figures('postgres', 'baseline projection', DEFAULT_BATCH, [baseProjection]),
        figures('postgres', 'chronicle projection', DEFAULT_BATCH, [chrProjection]),
        figures('postgres', 'chronicle batch projection', DEFAULT_BATCH, [chrBatchProjection]),
      ],
      prefillMs: filler.elapsedMs,
      prefilled: written,
      settings: { synchronousCommit: syncCommit?.synchronous_commit, poolSize: `${poolSize} (Chronicle's DataSource; the baselines use one pg.Client)` },
    };
  } finally {
    await client.end().catch(() => undefined);
    await dataSource?.destroy().catch(() => undefined);
    await schema.drop().catch(() => undefined);
  }
}

async function measureSqlite(context: ScenarioContext, serializer: EventSerializer): Promise<StoreRun> {
  const { events, streams, prefillUnit, rounds } = context.params.feedCatchUp;
  const file = join(context.tempDir, 'feed.sqlite');
  let dataSource: DataSource | undefined;
  let db: Database.Database | undefined;
  try {
    dataSource = await openDataSource('sqlite', file, 1);
    const journal = new TypeOrmJournal(dataSource);
    const store = new TypeOrmCheckpointStore(dataSource);
    const filler = new Prefill(journal, serializer, streams, prefillUnit);
    await filler.fill(events);
    const written = filler.written;
    const prefillMs = filler.elapsedMs;
    context.log(`sqlite: prefilled ${written} events over ${streams} streams in ${Math.round(prefillMs)} ms`);
    const pragma = async (name: string): Promise<string> => {
      const rows = (await dataSource!.query(`PRAGMA ${name}`)) as Array<Record<string, unknown>>;
      return String(Object.values(rows[0] ?? {})[0]);
    };
    const synchronous = await pragma('synchronous');
    const journalMode = await pragma('journal_mode');
    // The baseline: its own connection to the same file, with the pragmas of the DataSource's.
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec('CREATE TABLE base_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
    const baseDb = db;
    sqliteBaseline(baseDb, 'warm-up', DEFAULT_BATCH);

    const noopRounds: Record<string, Timed[]> = { baseline: [], [DEFAULT_BATCH]: [], [LARGE_BATCH]: [] };
    for (let pass = 1; pass <= rounds; pass++) {
      const base = await timed('sqlite', async () => sqliteBaseline(baseDb, `base-${pass}`, DEFAULT_BATCH));
      expectEvents('the SQLite baseline', base.events, written);
      noopRounds.baseline!.push(base);
      for (const batchSize of [DEFAULT_BATCH, LARGE_BATCH]) {
        const run = await timed('sqlite', () => chronicleCatchUp(journal, store, serializer, noop, `bench-noop-${batchSize}-${pass}`, batchSize));
        expectEvents(`the SQLite no-op subscription (batch ${batchSize})`, run.events, written);
        noopRounds[batchSize]!.push(run);
      }
      const perSec = (t: Timed) => Math.round((t.events / t.elapsedMs) * 1000);
      context.log(
        `sqlite round ${pass}/${rounds}: baseline ${perSec(base)} events/s, no-op batch ${DEFAULT_BATCH} ${perSec(noopRounds[DEFAULT_BATCH]!.at(-1)!)}, ` +
          `batch ${LARGE_BATCH} ${perSec(noopRounds[LARGE_BATCH]!.at(-1)!)}`,
      );
    }
    return {
      results: [
        figures('sqlite', 'baseline', DEFAULT_BATCH, noopRounds.baseline!),
        figures('sqlite', 'chronicle', DEFAULT_BATCH, noopRounds[DEFAULT_BATCH]!),
        figures('sqlite', 'chronicle', LARGE_BATCH, noopRounds[LARGE_BATCH]!),
      ],
      prefillMs,
      prefilled: written,
      settings: { sqlite: `one file, journal_mode=${journalMode}, synchronous=${synchronous} (0=OFF 1=NORMAL 2=FULL; the baseline's connection uses the same)` },
    };
  } finally {
    db?.close();
    await dataSource?.destroy().catch(() => undefined);
  }
}

function variantLabel(r: CatchUp): string {
  if (r.variant === 'chronicle') return `Chronicle no-op subscription, batch ${r.batchSize.toLocaleString('en-US')}`;
  if (r.variant === 'baseline') return `hand-written no-op catch-up, page ${r.batchSize.toLocaleString('en-US')}`;
  if (r.variant === 'baseline projection') return `hand-written projection, page ${r.batchSize.toLocaleString('en-US')}`;
  if (r.variant === 'chronicle batch projection') return `Chronicle TypeORM batch projection (@OnBatch, multi-row upsert), batch ${r.batchSize.toLocaleString('en-US')}`;
  return `Chronicle TypeORM projection, batch ${r.batchSize.toLocaleString('en-US')}`;
}

function baselineOf(results: CatchUp[], r: CatchUp): CatchUp | undefined {
  const wanted: Variant = r.variant.endsWith('projection') ? 'baseline projection' : 'baseline';
  return results.find((x) => x.store === r.store && x.variant === wanted);
}

/** Where the read dominates Chronicle's page time, says so with the figures (what the run shows, no diagnosis). */
function readNotes(results: CatchUp[]): string[] {
  const notes: string[] = [];
  for (const r of results) {
    if (r.variant !== 'chronicle') continue;
    const base = baselineOf(results, r);
    if (!base || r.readP50Ms < 3 * base.readP50Ms || r.readP50Ms < 0.5 * r.pageP50Ms) continue;
    const perEvent = (ms: number, batch: number) => `${round((ms * 1000) / batch)} µs/event`;
    notes.push(
      `${r.store === 'postgres' ? 'PostgreSQL' : 'SQLite'}, batch ${r.batchSize.toLocaleString('en-US')}: the feed read (Journal.readAll) takes ${round(r.readP50Ms)} ms per page (p50, ` +
        `${perEvent(r.readP50Ms, r.batchSize)}), ${Math.round((r.readP50Ms / r.pageP50Ms) * 100)} % of the page, against ${round(base.readP50Ms)} ms ` +
        `(${perEvent(base.readP50Ms, base.batchSize)}) for the baseline's keyset SELECT of ${base.batchSize.toLocaleString('en-US')} rows.`,
    );
  }
  return notes;
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const params = context.params.feedCatchUp;
  const serializer = new EventSerializer(new AggregateCatalog([BenchLedger]).events);
  const postgres = await measurePostgres(context, serializer);
  const sqlite = await measureSqlite(context, serializer);
  const results = [...postgres.results, ...sqlite.results];

  const rows = results.map((r) => {
    const base = baselineOf(results, r);
    return [
      r.store === 'postgres' ? 'PostgreSQL' : 'SQLite',
      variantLabel(r),
      r.events / r.catchUps,
      r.catchUps,
      round(r.elapsedMs / r.catchUps / 1000),
      Math.round(r.eventsPerSec),
      r.variant.startsWith('baseline') ? '1.00×' : formatRatio(ratio(r.eventsPerSec, base?.eventsPerSec ?? 0)),
      r.roundEventsPerSec ? `${Math.round(Math.min(...r.roundEventsPerSec))}–${Math.round(Math.max(...r.roundEventsPerSec))}` : '(1 round)',
      r.pages,
      round(r.pageP50Ms),
      round(r.pageP99Ms),
      round(r.readP50Ms),
      round(r.commitP50Ms),
      Math.round(r.cpuPct),
      r.dbCpuPct === undefined ? 'n/a' : Math.round(r.dbCpuPct),
      r.peakRssMb,
    ];
  });
  const chart: ResultChart = {
    title: 'Feed catch-up (events/s)',
    kind: 'bar',
    xLabels: results.map(
      (r) =>
        `${r.store === 'postgres' ? 'PG' : 'SQLite'} ${r.variant === 'baseline' ? 'base' : r.variant === 'chronicle' ? `no-op ${r.batchSize}` : r.variant === 'baseline projection' ? 'base proj' : r.variant === 'chronicle batch projection' ? 'batch proj' : 'proj'}`,
    ),
    yLabel: 'events/s',
    values: results.map((r) => Math.round(r.eventsPerSec)),
  };

  const find = (store: Store, variant: Variant, batchSize = DEFAULT_BATCH) => results.find((r) => r.store === store && r.variant === variant && r.batchSize === batchSize);
  const targets: TargetCheck[] = [];
  const pgDefault = find('postgres', 'chronicle');
  const pgLarge = find('postgres', 'chronicle', LARGE_BATCH);
  const pgBase = find('postgres', 'baseline');
  if (pgDefault && pgBase) {
    targets.push({
      scenario: 'feed-catch-up',
      name: `PostgreSQL feed catch-up into a no-op subscription (default batch ${DEFAULT_BATCH})`,
      target: `≥ ${TARGET_EVENTS_PER_SEC.toLocaleString('en-US')} events/s`,
      measured: `${Math.round(pgDefault.eventsPerSec)} events/s (${formatRatio(ratio(pgDefault.eventsPerSec, pgBase.eventsPerSec))} the hand-written baseline's ${Math.round(pgBase.eventsPerSec)})`,
      status: pgDefault.eventsPerSec >= TARGET_EVENTS_PER_SEC ? 'PASS' : 'MISS',
    });
    targets.push({
      scenario: 'feed-catch-up',
      name: `PostgreSQL feed catch-up against the hand-written reader (default batch ${DEFAULT_BATCH})`,
      target: `≥ ${TARGET_RATIO.postgres}× the hand-written reader`,
      measured: `${formatRatio(ratio(pgDefault.eventsPerSec, pgBase.eventsPerSec))} (${Math.round(pgDefault.eventsPerSec)} vs ${Math.round(pgBase.eventsPerSec)} events/s)`,
      status: ratio(pgDefault.eventsPerSec, pgBase.eventsPerSec) >= TARGET_RATIO.postgres ? 'PASS' : 'MISS',
    });
  }
  if (pgLarge && pgBase) {
    targets.push({
      scenario: 'feed-catch-up',
      name: `PostgreSQL feed catch-up into a no-op subscription, batch ${LARGE_BATCH.toLocaleString('en-US')}`,
      target: `(the target is stated at the default batch; shown against ${TARGET_EVENTS_PER_SEC.toLocaleString('en-US')} events/s)`,
      measured: `${Math.round(pgLarge.eventsPerSec)} events/s (${formatRatio(ratio(pgLarge.eventsPerSec, pgBase.eventsPerSec))} the baseline)`,
      status: 'INFO',
    });
  }
  const pgProjection = find('postgres', 'chronicle projection');
  const pgBaseProjection = find('postgres', 'baseline projection');
  if (pgProjection && pgBaseProjection) {
    targets.push({
      scenario: 'feed-catch-up',
      name: 'PostgreSQL TypeORM projection (one upsert per event, exactly once with the checkpoint)',
      target: '(none stated; shown against the hand-written projection)',
      measured: `${Math.round(pgProjection.eventsPerSec)} events/s vs ${Math.round(pgBaseProjection.eventsPerSec)} (${formatRatio(ratio(pgProjection.eventsPerSec, pgBaseProjection.eventsPerSec))}); totals verified`,
      status: 'INFO',
    });
  }
  const pgBatchProjection = find('postgres', 'chronicle batch projection');
  if (pgBatchProjection && pgBaseProjection) {
    const measured = ratio(pgBatchProjection.eventsPerSec, pgBaseProjection.eventsPerSec);
    targets.push({
      scenario: 'feed-catch-up',
      name: 'PostgreSQL TypeORM batch projection (@OnBatch, one multi-row upsert per checkpoint transaction)',
      target: `≥ ${TARGET_BATCH_PROJECTION_RATIO}× the hand-written one-upsert-per-event projection`,
      measured: `${Math.round(pgBatchProjection.eventsPerSec)} events/s vs ${Math.round(pgBaseProjection.eventsPerSec)} (${formatRatio(measured)}); totals verified`,
      status: measured >= TARGET_BATCH_PROJECTION_RATIO ? 'PASS' : 'MISS',
    });
  }
  const liteDefault = find('sqlite', 'chronicle');
  const liteBase = find('sqlite', 'baseline');
  if (liteDefault && liteBase) {
    targets.push({
      scenario: 'feed-catch-up',
      name: `SQLite feed catch-up into a no-op subscription (default batch ${DEFAULT_BATCH})`,
      target: `≥ ${TARGET_RATIO.sqlite}× the hand-written reader`,
      measured: `${Math.round(liteDefault.eventsPerSec)} events/s vs baseline ${Math.round(liteBase.eventsPerSec)} (${formatRatio(ratio(liteDefault.eventsPerSec, liteBase.eventsPerSec))})`,
      status: ratio(liteDefault.eventsPerSec, liteBase.eventsPerSec) >= TARGET_RATIO.sqlite ? 'PASS' : 'MISS',
    });
  }

  return {
    settings: {
      storage: 'postgres and sqlite (better-sqlite3 file)',
      events:
        `no-op catch-ups: ${params.events} per store, prefilled before they are measured; projections (PostgreSQL only): run first, when the journal held its first ` +
        `${Math.min(params.projectionEvents, params.events)} events (one statement per event makes them the slow part), the remaining events were appended after them`,
      streams: params.streams,
      prefill:
        `TypeOrmJournal.append in units of ${params.prefillUnit} events (every stream gets ${Math.max(1, Math.floor(params.prefillUnit / params.streams))} per unit, so streams interleave in the feed); ` +
        `BenchLedger Posted events with amounts 1–9; PostgreSQL ${Math.round(postgres.prefillMs)} ms, SQLite ${Math.round(sqlite.prefillMs)} ms`,
      rounds: `${params.rounds} interleaved pass(es) of baseline, no-op batch ${DEFAULT_BATCH}, no-op batch ${LARGE_BATCH} per store, each from an empty checkpoint (a new subscription name), merged (all events over all time); projections: one pass each`,
      warmUp: 'VACUUM ANALYZE of the events table (PostgreSQL) and one untimed baseline pass before the projections and before the no-op rounds, so every variant reads a warm cache',
      chronicle:
        'SubscriptionRunner (libs/core) with TypeOrmJournal + TypeOrmCheckpointStore on a TypeORM DataSource, EventSerializer of the BenchLedger catalog; runner.drain() timed from an empty checkpoint to caught up (lease taken in the first step). ' +
        'Each page: the gap-free feed query (on PostgreSQL ordered by (tx_id, position) below the snapshot bound), decode and deserialize every event, hand it to the handler, one checkpoint transaction (fenced UPDATE, plus the handler\'s work).',
      noopHandler: "types '*', handle returns undefined (no transactional work)",
      batchProjection:
        "LedgerTotalsProjection (bench/domain): a @Projection with one @OnBatch(Posted) method, through ProjectionHandler; per checkpoint transaction (up to 500 events) the amounts summed per stream, then one INSERT … SELECT FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (stream_id) DO UPDATE SET total = t.total + EXCLUDED.total through the transaction's EntityManager. Totals checked against the prefilled sums afterwards.",
      projection: `types {'ledger.posted'}; per event the returned work runs INSERT … ON CONFLICT (stream_id) DO UPDATE SET total = t.total + EXCLUDED.total through the transaction's EntityManager (tx.query); batch ${DEFAULT_BATCH}, commitEvery = batch. Totals checked against the prefilled sums afterwards.`,
      baseline:
        `hand-written: SELECT position, stream_id, version, type, payload, metadata FROM <schema>."${DEFAULT_TABLE_PREFIX}events" WHERE position > $1 ORDER BY position LIMIT ${DEFAULT_BATCH}; ` +
        'payload/metadata as the driver returns them (pg: jsonb parsed by the driver; better-sqlite3: JSON.parse of the text); BEGIN; UPDATE of its checkpoint row; COMMIT, per page. ' +
        'The projection baseline adds the same per-event upsert inside that transaction. PostgreSQL: one pg.Client; SQLite: its own better-sqlite3 connection to the same file. ' +
        'A plain position cursor is not gap-free under concurrent writers; here nothing writes during the catch-up, so both read the same events.',
      pageLatency: 'one runOnce of the runner (read a page, handle it, commit the checkpoint) or one page of the baseline; pages that delivered events only',
      ...postgres.settings,
      ...sqlite.settings,
    },
    metrics: { results, prefill: { postgresMs: postgres.prefillMs, sqliteMs: sqlite.prefillMs, events: postgres.prefilled } },
    tables: [
      {
        title: `Feed catch-up from an empty checkpoint to caught up (no-op: ${params.events.toLocaleString('en-US')} events; projections: ${Math.min(params.projectionEvents, params.events).toLocaleString('en-US')})`,
        columns: [
          'store',
          'variant',
          'events per catch-up',
          'catch-ups',
          'seconds per catch-up (mean)',
          'events/s',
          'vs baseline',
          'events/s per round (min–max)',
          'pages timed',
          'page p50 ms',
          'page p99 ms',
          'read p50 ms',
          'checkpoint tx p50 ms',
          'Node CPU %',
          'PostgreSQL CPU %',
          'peak RSS MiB',
        ],
        rows,
        caption:
          'Events/s = all events over all time of the catch-ups (rounds) merged into the row. No-op rows divide by the hand-written no-op catch-up, projection rows by the hand-written projection, on the same store in this run. ' +
          'Page = read a page, decode it, hand it over, commit the checkpoint; read = Journal.readAll (baseline: its SELECT); checkpoint tx = CheckpointStore.advance with the handler\'s work (baseline: BEGIN … COMMIT). ' +
          'Node CPU = user+system time of the benchmark process over the catch-up (100 % = one core); PostgreSQL CPU = the same for every local postgres process.',
      },
    ],
    charts: [chart],
    targets,
    notes: readNotes(results),
  };
}

export const feedCatchUp: Scenario = {
  id: 'feed-catch-up',
  title: '6a. Feed catch-up into a no-op subscription and into a TypeORM projection (events/s)',
  needs: ['postgres'],
  timeoutMs: { full: 480_000, quick: 60_000 },
  run,
};
