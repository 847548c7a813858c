import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { DataSource, EntityManager } from 'typeorm';
import {
  AggregateCatalog,
  Event,
  EventSerializer,
  SubscriptionRunner,
  type ChronicleLogger,
  type NewEvent,
  type RecordedEvent,
  type SubscriptionHandler,
  type TransactionalWork,
} from '@chronicle/core';
import { TypeOrmCheckpointStore, TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

@Event('sub.tested')
class Tested {
  constructor(readonly label: string) {}
}

const quiet: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const serializer = new EventSerializer(new AggregateCatalog([], [Tested]).events);

function event(label: string): NewEvent {
  return { eventId: randomUUID(), type: 'sub.tested', schemaVersion: 1, payload: { label }, metadata: {}, tags: [], occurredAt: new Date() };
}

/**
 * A read model in the same database: per stream, how many events were applied and the last version.
 * Every application also inserts the event id into `applied` (primary key): a second application of
 * one event fails the transaction, so exactly-once is checked by the database itself.
 */
class TallyProjection implements SubscriptionHandler<EntityManager> {
  readonly types = new Set(['sub.tested']);
  poisoned = new Set<string>();

  constructor(
    private readonly schema: string,
    private readonly runner: string,
  ) {}

  async handle(_event: object, envelope: RecordedEvent): Promise<TransactionalWork<EntityManager>> {
    if (this.poisoned.has(envelope.streamId)) throw new Error(`poison in ${envelope.streamId}@${envelope.version}`);
    return async (tx) => {
      await tx.query(`INSERT INTO "${this.schema}".applied (event_id, runner) VALUES ($1, $2)`, [envelope.eventId, this.runner]);
      await tx.query(
        `INSERT INTO "${this.schema}".tally (stream_id, events, last_version) VALUES ($1, 1, $2)
         ON CONFLICT (stream_id) DO UPDATE SET events = tally.events + 1, last_version = EXCLUDED.last_version
         WHERE tally.last_version = EXCLUDED.last_version - 1`,
        [envelope.streamId, envelope.version],
      );
    };
  }
}

await describePostgres('PostgreSQL subscriptions: checkpoints, leases, parking and rebuilds (guarantees 5 and 6)', () => {
  let database: TestDatabase;
  let schema: string;
  let journal: TypeOrmJournal;

  beforeEach(async () => {
    database = await openPostgresSchema();
    schema = database.tables.schema!;
    journal = new TypeOrmJournal(database.dataSource, database.tables);
    await database.dataSource.query(`CREATE TABLE "${schema}".tally (stream_id text PRIMARY KEY, events int NOT NULL, last_version int NOT NULL)`);
    await database.dataSource.query(`CREATE TABLE "${schema}".applied (event_id text PRIMARY KEY, runner text NOT NULL)`);
  });
  afterEach(async () => {
    await database.close();
  });

  function runnerOn(dataSource: DataSource, owner: string, options: { leaseMs?: number; batchSize?: number } = {}) {
    const projection = new TallyProjection(schema, owner);
    const runner = new SubscriptionRunner<EntityManager>(
      {
        journal: new TypeOrmJournal(dataSource, database.tables),
        store: new TypeOrmCheckpointStore(dataSource, database.tables),
        serializer,
        logger: quiet,
      },
      projection,
      { name: 'projection:tally', owner, batchSize: options.batchSize ?? 50, leaseMs: options.leaseMs ?? 10_000, maxAttempts: 2, backoffInitialMs: 1 },
    );
    return { projection, runner };
  }

  async function appendTo(streamId: string, count = 1): Promise<void> {
    const version = await journal.streamVersion(streamId);
    await journal.append({
      writes: [{ streamId, aggregateType: 'sub', expectedVersion: version, events: Array.from({ length: count }, (_, i) => event(`${streamId}#${version + i + 1}`)) }],
    });
  }

  async function tally(): Promise<Record<string, number>> {
    const rows = (await database.dataSource.query(`SELECT stream_id, events FROM "${schema}".tally ORDER BY stream_id`)) as Array<{ stream_id: string; events: number }>;
    return Object.fromEntries(rows.map((row) => [row.stream_id, row.events]));
  }

  /** A fresh fold of the journal: events per stream. */
  async function fold(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    let cursor: string | null = null;
    for (;;) {
      const page = await journal.readAll(cursor, 1_000);
      for (const e of page.events) counts[e.streamId] = (counts[e.streamId] ?? 0) + 1;
      cursor = page.next;
      if (page.events.length < 1_000) break;
    }
    return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  it('sees every event, also those whose transactions commit after later positions did', async () => {
    const { runner } = runnerOn(database.dataSource, 'one');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const holding = new Promise<void>((resolve) => (entered = resolve));
    journal.addParticipant({
      participate: async (_tx, request) => {
        if (request.writes[0]?.streamId !== 'late') return;
        entered();
        await gate;
      },
    });
    // "late" takes its position first and commits last.
    const late = journal.append({ writes: [{ streamId: 'late', aggregateType: 'sub', expectedVersion: 0, events: [event('late')] }] });
    await holding;
    await appendTo('early', 3);
    await runner.drain();
    // The later positions are committed, but the feed holds them back behind the open unit: a
    // reader trusting "position > checkpoint" would pass them now and skip "late" for good.
    expect(await tally()).toEqual({});
    release();
    await late;
    await appendTo('early');
    await runner.drain();
    expect(await tally()).toEqual({ early: 4, late: 1 });
    await runner.stop();
  });

  it('parks a poison event and holds back only its stream, across a restart; a re-drive delivers the held events in order', async () => {
    await appendTo('poison', 2);
    await appendTo('healthy', 2);
    const first = runnerOn(database.dataSource, 'first');
    first.projection.poisoned.add('poison');
    await first.runner.drain();
    expect(await tally()).toEqual({ healthy: 2 });
    await first.runner.stop();

    // A new runner (a restarted instance) still holds the stream back.
    const restarted = runnerOn(await database.openAnother(), 'restarted');
    restarted.projection.poisoned.add('poison');
    await appendTo('poison');
    await appendTo('healthy');
    await restarted.runner.drain();
    expect(await tally()).toEqual({ healthy: 3 });
    const store = new TypeOrmCheckpointStore(database.dataSource, database.tables);
    const parked = await store.parked('projection:tally');
    expect(parked.map((p) => [p.streamId, p.version, p.reason])).toEqual([
      ['poison', 1, 'failed'],
      ['poison', 2, 'held'],
      ['poison', 3, 'held'],
    ]);
    expect(parked[0]?.error).toContain('poison in poison@1');
    expect((await restarted.runner.status()).lastError).toContain('poison@1');

    restarted.projection.poisoned.clear();
    await restarted.runner.redrive('poison');
    await restarted.runner.wake();
    expect(await tally()).toEqual({ healthy: 3, poison: 3 });
    expect(await store.parked('projection:tally')).toEqual([]);
    await restarted.runner.stop();
  });

  it('two instances: one runner is active, each event is applied exactly once, and the survivor takes over a dead holder', async () => {
    const a = runnerOn(await database.openAnother(), 'instance-a', { leaseMs: 600, batchSize: 7 });
    const b = runnerOn(await database.openAnother(), 'instance-b', { leaseMs: 600, batchSize: 7 });
    let writing = true;
    const writer = (async () => {
      // Paced, so the volume does not grow with the speed of appends (the drain below is timed).
      for (let i = 0; writing; i++) {
        await appendTo(`s${i % 13}`, 1 + (i % 3));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
    })();
    const loops = [a, b].map(async ({ runner }) => {
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        await runner.wake();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    await Promise.all(loops);
    // Instance A "dies": it stops stepping without giving its lease back.
    const holder = (await a.runner.status()).active ? a : b;
    const survivor = holder === a ? b : a;
    writing = false;
    await writer;
    expect((await survivor.runner.runOnce()).active).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 650));
    await survivor.runner.drain();
    expect((await survivor.runner.status()).active).toBe(true);

    expect(await tally()).toEqual(await fold());
    const [row] = (await database.dataSource.query(`SELECT count(*)::int AS applied FROM "${schema}".applied`)) as Array<{ applied: number }>;
    const applied = row?.applied;
    const total = Object.values(await fold()).reduce((sum, n) => sum + n, 0);
    expect(applied).toBe(total);
    await survivor.runner.stop();
  });

  it('two instances, chunks slower than the lease: the holder renews while its handlers run, the checkpoint climbs to the head without regressing, each event is handled about once', async () => {
    // Three chunks of 100 events at 25 ms each: every chunk takes 2.5 s, two and a half leases.
    const total = 300;
    for (let i = 0; i < total / 10; i++) await appendTo(`slow${i % 7}`, 10);
    const head = (await journal.readAll(null, total + 1)).next;
    const name = 'projection:tally';
    let calls = 0;
    const slowRunner = async (owner: string) => {
      const projection = new TallyProjection(schema, owner);
      const slow: SubscriptionHandler<EntityManager> = {
        types: projection.types,
        async handle(event, envelope) {
          calls += 1;
          await new Promise((resolve) => setTimeout(resolve, 25));
          return projection.handle(event, envelope);
        },
      };
      const dataSource = await database.openAnother();
      return new SubscriptionRunner<EntityManager>(
        { journal: new TypeOrmJournal(dataSource, database.tables), store: new TypeOrmCheckpointStore(dataSource, database.tables), serializer, logger: quiet },
        slow,
        { name, owner, batchSize: 100, leaseMs: 1_000, maxAttempts: 2, backoffInitialMs: 1 },
      );
    };
    const runners = [await slowRunner('instance-a'), await slowRunner('instance-b')];
    const store = new TypeOrmCheckpointStore(database.dataSource, database.tables);
    // Bounded: alone, one runner needs 7.5 s; the livelock this guards against never gets there.
    const deadline = Date.now() + 20_000;
    let reached = false;
    const positions: Array<string | null> = [];
    const monitor = (async () => {
      while (!reached && Date.now() < deadline) {
        const position = (await store.load(name))?.position ?? null;
        if (positions.length === 0 || positions.at(-1) !== position) positions.push(position);
        reached = position === head;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const loops = runners.map(async (runner) => {
      while (!reached && Date.now() < deadline) {
        await runner.wake();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    await monitor;
    await Promise.all(loops);
    await Promise.all(runners.map((runner) => runner.stop()));

    expect(positions.at(-1)).toBe(head);
    for (let i = 1; i < positions.length; i++) {
      const [before, after] = [positions[i - 1] ?? null, positions[i] ?? null];
      if (before !== null) expect(after === null ? -1 : journal.compareCursors(after, before)).toBeGreaterThan(0);
    }
    // At most one chunk handled twice: a holder that dies mid-chunk is the only excuse.
    expect(calls).toBeLessThanOrEqual(total + 100);
    const [row] = (await database.dataSource.query(`SELECT count(*)::int AS applied FROM "${schema}".applied`)) as Array<{ applied: number }>;
    expect(row?.applied).toBe(total);
    expect(await tally()).toEqual(await fold());
  }, 40_000);

  it('a rebuilt read model equals the incrementally built one, and the live runner continues after it', async () => {
    for (let i = 0; i < 40; i++) await appendTo(`r${i % 9}`, 1 + (i % 4));
    const live = runnerOn(database.dataSource, 'live', { batchSize: 25 });
    await live.runner.drain();
    const incremental = await tally();
    // Damage the model; the rebuild must not rely on what is there.
    await database.dataSource.query(`UPDATE "${schema}".tally SET events = events + 100`);

    const rebuilder = runnerOn(await database.openAnother(), 'cli', { batchSize: 25 });
    const progress: number[] = [];
    const result = await rebuilder.runner.rebuild(async (tx) => {
      await tx.query(`DELETE FROM "${schema}".tally`);
      await tx.query(`DELETE FROM "${schema}".applied`);
    }, (p) => progress.push(p.read));
    expect(result.handled).toBe(Object.values(incremental).reduce((sum, n) => sum + n, 0));
    expect(progress.at(-1)).toBe(result.read);
    expect(await tally()).toEqual(incremental);

    await appendTo('r0', 2);
    await live.runner.drain();
    expect(await tally()).toEqual(await fold());
    await live.runner.stop();
  });

  it('a projection restored with its journal into another cluster fails by name until the rebase, then applies what it had not, each event once', async () => {
    await appendTo('a', 2);
    await appendTo('b');
    const before = runnerOn(database.dataSource, 'old-cluster');
    await before.runner.drain();
    await before.runner.stop();
    expect(await tally()).toEqual({ a: 2, b: 1 });
    // pg_dump and restore into a cluster a million transactions behind: rows and checkpoint keep their ids.
    const events = `"${schema}"."chronicle_events"`;
    const checkpoints = `"${schema}"."chronicle_checkpoints"`;
    const [{ offset }] = (await database.dataSource.query(
      `SELECT (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000)::text AS offset`,
    )) as [{ offset: string }];
    await database.dataSource.query(`UPDATE ${events} SET tx_id = (tx_id::text::bigint + $1::bigint)::text::xid8`, [offset]);
    await database.dataSource.query(
      `UPDATE ${checkpoints} SET position = (split_part(position, ':', 1)::bigint + $1::bigint)::text || ':' || split_part(position, ':', 2)`,
      [offset],
    );
    // Appended on the new cluster before anyone ran the repair: it sorts below the restored checkpoint.
    await appendTo('c');

    const forgotten = runnerOn(database.dataSource, 'new-cluster');
    await forgotten.runner.wake();
    expect((await forgotten.runner.status()).lastError).toMatch(/^TransactionIdsAheadError: .*rebaseTransactionIds\(\)/);
    await forgotten.runner.stop();
    expect(await tally()).toEqual({ a: 2, b: 1 });

    await journal.rebaseTransactionIds();
    const repaired = runnerOn(database.dataSource, 'repaired');
    await repaired.runner.drain();
    expect(await tally()).toEqual({ a: 2, b: 1, c: 1 });
    await appendTo('a');
    await repaired.runner.drain();
    expect(await tally()).toEqual(await fold());
    const [{ applied }] = (await database.dataSource.query(`SELECT count(*)::int AS applied FROM "${schema}".applied`)) as [{ applied: number }];
    expect(applied).toBe(5);
    await repaired.runner.stop();
  });
});
