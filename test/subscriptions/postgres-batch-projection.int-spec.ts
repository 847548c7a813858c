import { afterEach, beforeEach, expect, it, jest } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import {
  createChronicle,
  OnBatch,
  Projection,
  projectionSubscriptionName,
  type Chronicle,
  type ChronicleLogger,
  type FeedCursor,
  type ProjectionBatchContext,
  type ProjectionBatchEvent,
  type RebuildableProjection,
} from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted } from '../fixtures/ledger.aggregate.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

jest.setTimeout(60_000);

const silent = (): ChronicleLogger => ({ log: () => undefined, warn: () => undefined, error: () => undefined });

/**
 * Per batch: the totals folded per ledger, one multi-row upsert; the batch's event ids, one
 * multi-row insert into `applied`, whose primary key fails a batch that would apply an event twice.
 */
@Projection({ name: 'ledger-totals', maxAttempts: 2 })
class LedgerTotals implements RebuildableProjection<EntityManager> {
  calls: number[] = [];
  /** Calls to fail after their writes (each failure consumes one). */
  failAfterWrites = 0;

  constructor(private readonly schema: string) {}

  @OnBatch(LedgerOpened, Posted)
  async project(events: ProjectionBatchEvent[], { tx }: ProjectionBatchContext<EntityManager>): Promise<void> {
    this.calls.push(events.length);
    const totals = new Map<string, number>();
    for (const { event } of events) {
      const ledger = (event as LedgerOpened | Posted).ledgerId;
      totals.set(ledger, (totals.get(ledger) ?? 0) + (event instanceof Posted ? event.amount : 0));
    }
    await tx.query(
      `INSERT INTO "${this.schema}".totals AS t (ledger_id, total) SELECT * FROM unnest($1::text[], $2::bigint[]) ` +
        'ON CONFLICT (ledger_id) DO UPDATE SET total = t.total + EXCLUDED.total',
      [[...totals.keys()], [...totals.values()]],
    );
    await tx.query(`INSERT INTO "${this.schema}".applied (event_id) SELECT * FROM unnest($1::text[])`, [events.map(({ envelope }) => envelope.eventId)]);
    if (this.failAfterWrites > 0) {
      this.failAfterWrites -= 1;
      throw new Error('the read model failed after writing');
    }
  }

  async clear(tx: EntityManager): Promise<void> {
    await tx.query(`DELETE FROM "${this.schema}".totals`);
    await tx.query(`DELETE FROM "${this.schema}".applied`);
  }
}

await describePostgres('PostgreSQL batch projections through createChronicle (@OnBatch, multi-row writes)', () => {
  let database: TestDatabase;
  let schema: string;
  let chronicle: Chronicle<EntityManager> | undefined;

  beforeEach(async () => {
    database = await openPostgresSchema();
    schema = database.tables.schema!;
    await database.dataSource.query(`CREATE TABLE "${schema}".totals (ledger_id text PRIMARY KEY, total bigint NOT NULL)`);
    await database.dataSource.query(`CREATE TABLE "${schema}".applied (event_id text PRIMARY KEY)`);
  });
  afterEach(async () => {
    await chronicle?.stop();
    chronicle = undefined;
    await database.close();
  });

  async function run(projection: LedgerTotals, ledgers: number, posts: number): Promise<{ expected: Record<string, number>; events: number; last: FeedCursor }> {
    chronicle = createChronicle<EntityManager>({
      storage: createTypeOrmStorage(database.dataSource, { ...database.tables, logger: silent() }),
      aggregates: [Ledger],
      projections: [projection],
      logger: silent,
    });
    await chronicle.start();
    const expected: Record<string, number> = {};
    let events = 0;
    let last: FeedCursor | undefined;
    for (let l = 0; l < ledgers; l++) {
      const id = `ledger-${l}`;
      last = (await chronicle.execute(new OpenLedger(id, 'owner'))).cursor;
      expected[id] = 0;
      events += 1;
    }
    // Concurrent commands: group commit interleaves the ledgers in the feed.
    await Promise.all(
      Array.from({ length: ledgers }, async (_, l) => {
        for (let p = 1; p <= posts; p++) {
          const id = `ledger-${l}`;
          const result = await chronicle!.execute(new Post(id, p + l));
          expected[id]! += p + l;
          events += 1;
          if (last === undefined || chronicle!.storage.journal.compareCursors(result.cursor!, last) > 0) last = result.cursor;
        }
      }),
    );
    return { expected, events, last: last! };
  }

  async function totals(): Promise<Record<string, number>> {
    const rows = (await database.dataSource.query(`SELECT ledger_id, total FROM "${schema}".totals ORDER BY ledger_id`)) as Array<{ ledger_id: string; total: string }>;
    return Object.fromEntries(rows.map((row) => [row.ledger_id, Number(row.total)]));
  }

  async function appliedCount(): Promise<number> {
    const [row] = (await database.dataSource.query(`SELECT count(*)::int AS n FROM "${schema}".applied`)) as Array<{ n: number }>;
    return row!.n;
  }

  it('applies every event once, in batches, with the checkpoint; a batch that fails after writing is rolled back and redone event by event; a rebuild equals it', async () => {
    const projection = new LedgerTotals(schema);
    // The first call fails after its upsert and inserts: nothing of it may stay.
    projection.failAfterWrites = 1;
    const { expected, events, last } = await run(projection, 12, 40);
    const runner = chronicle!.subscriptions.get(projectionSubscriptionName('ledger-totals'))!;
    await runner.waitFor(last, 30_000);

    expect(projection.failAfterWrites).toBe(0);
    expect(await totals()).toEqual(expected);
    expect(await appliedCount()).toBe(events);
    expect((await runner.status()).parked).toBe(0);
    // Batches of more than one event carried most of the feed.
    expect(Math.max(...projection.calls)).toBeGreaterThan(1);

    await database.dataSource.query(`UPDATE "${schema}".totals SET total = -1`);
    projection.calls = [];
    // As SubscriptionAdmin.rebuildProjection does: the runtime's handler clears, the runner replays.
    const handler = chronicle!.projections.get('ledger-totals')!;
    const rebuilt = await runner.rebuild((tx) => handler.clear(tx));
    expect(rebuilt).toMatchObject({ read: events, handled: events, parked: 0 });
    expect(await totals()).toEqual(expected);
    expect(await appliedCount()).toBe(events);
    // A page per call in a rebuild.
    expect(projection.calls.reduce((sum, n) => sum + n, 0)).toBe(events);
    expect(projection.calls.length).toBeLessThan(events / 100);
  });
});
