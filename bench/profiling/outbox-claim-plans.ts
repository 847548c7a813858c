import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import type { NewEvent } from '@chronicle/core';
import { TypeOrmJournal, TypeOrmOutboxStore, runChronicleMigrations } from '@chronicle/typeorm';
import { POSTGRES_URL, freshSchema } from '../support/postgres.js';

/*
 * What the outbox claim costs after a burst, by how its statement is planned:
 * `node dist/bench/profiling/outbox-claim-plans.js`. Not a scenario (no target, no result file).
 * On a one-connection pool with autovacuum off: three entries, an ANALYZE (what autovacuum does
 * on a new deployment), eight relay runs on that outbox (past the five after which PostgreSQL
 * keeps a prepared statement's generic plan), then 3,000 entries over 300 aggregates, and relay
 * runs (claim 500, mark them published) until the outbox is empty, timed. Once with the relay's
 * statements prepared (the default: one name per plan generation), once with
 * `preparedStatements: false` (planned on every run). A build whose `planGeneration` always
 * returns 0 shows the plan made on three entries kept for the grown outbox.
 */

const event = (n: number): NewEvent => ({ eventId: randomUUID(), type: 'thing.happened', schemaVersion: 1, payload: { n }, metadata: {}, tags: [], occurredAt: new Date() });

async function claimsAfterBurst(preparedStatements: boolean): Promise<number[]> {
  const schema = await freshSchema('profile_claim_plans');
  const dataSource = new DataSource({ type: 'postgres', driver: pg, url: POSTGRES_URL, poolSize: 1 });
  await dataSource.initialize();
  try {
    const tables = { schema: schema.schema };
    await runChronicleMigrations(dataSource, tables);
    for (const table of ['chronicle_outbox', 'chronicle_outbox_handlers']) {
      await dataSource.query(`ALTER TABLE "${schema.schema}"."${table}" SET (autovacuum_enabled = off)`);
    }
    const store = new TypeOrmOutboxStore(dataSource, { ...tables, preparedStatements });
    await store.subscribe([{ handler: 'profile', events: '*', startFrom: 'now' }]);
    const journal = new TypeOrmJournal(dataSource, { ...tables, preparedStatements });
    journal.addParticipant(store);
    const relay = async (): Promise<number> => {
      const entries = await store.claim('profile', 'relay', { limit: 500, leaseMs: 60_000 });
      if (entries.length > 0) await store.markPublished('profile', 'relay', entries.map((entry) => entry.id));
      return entries.length;
    };
    await journal.append({ writes: [{ streamId: 'small', aggregateType: 'item', expectedVersion: 0, events: [event(0), event(1), event(2)] }] });
    await dataSource.query(`ANALYZE "${schema.schema}"."chronicle_outbox"`);
    for (let run = 0; run < 8; run++) await relay();
    for (let i = 0; i < 30; i++) {
      await journal.append({
        writes: Array.from({ length: 10 }, (_, k) => ({ streamId: `bulk-${i}-${k}`, aggregateType: 'item', expectedVersion: 0, events: Array.from({ length: 10 }, (_, n) => event(n)) })),
      });
    }
    const times: number[] = [];
    for (;;) {
      const started = performance.now();
      if ((await relay()) === 0) return times;
      times.push(performance.now() - started);
    }
  } finally {
    await dataSource.destroy();
    await schema.drop();
  }
}

async function main(): Promise<void> {
  for (const prepared of [true, false]) {
    const times = await claimsAfterBurst(prepared);
    console.log(`${prepared ? 'prepared, per plan generation' : 'planned on every run'}: ${times.length} relay runs of 500, ms each: ${times.map((ms) => ms.toFixed(1)).join(', ')}`);
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
