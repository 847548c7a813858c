import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { NewEvent } from '@chronicle/core';
import { TypeOrmJournal, TypeOrmOutboxStore } from '@chronicle/typeorm';
import { planGeneration } from '../../libs/typeorm/src/transactions/plan-generation.js';
import { genericPlanRuns } from '../support/generic-plan-runs.js';
import { keptPlans } from '../support/kept-plans.js';
import { preparedStatementPattern } from '../support/prepared-statement-pattern.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const HANDLER = 'planned';
const OUTBOX_SEQ_SCAN = /Seq Scan on chronicle_outbox\b/;
const OUTBOX_BY_INDEX = /Index (Only )?Scan using \S+ on chronicle_outbox\b/;
/** The relay's statements are named as `runAutocommit` names them. */
const RELAY_PREFIX = 'chronicle_';
const CLAIM = 'WITH RECURSIVE';

function event(index: number): NewEvent {
  return { eventId: randomUUID(), type: 'thing.happened', schemaVersion: 1, payload: { index }, metadata: {}, tags: [], occurredAt: new Date() };
}

await describePostgres('PostgreSQL outbox relay: prepared statements as the outbox grows', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  it('claims through its indexes once the outbox has grown, though the plan kept while it was small scans it', async () => {
    // One connection: the claim prepared on it is the one every claim runs, and the plan it keeps
    // is the one EXPLAIN shows there.
    const dataSource = await database.openAnother({ poolSize: 1 });
    const { schema } = database.tables;
    // No ANALYZE may rebuild a plan mid-test (autovacuum's would, on a busy machine).
    for (const table of ['chronicle_outbox', 'chronicle_outbox_handlers']) await dataSource.query(`ALTER TABLE "${schema}"."${table}" SET (autovacuum_enabled = off)`);
    const store = new TypeOrmOutboxStore(dataSource, database.tables);
    await store.subscribe([{ handler: HANDLER, events: '*', startFrom: 'now' }]);
    const journal = new TypeOrmJournal(dataSource, database.tables);
    journal.addParticipant(store);
    await journal.append({ writes: [{ streamId: 'small', aggregateType: 'item', expectedVersion: 0, events: [event(0), event(1), event(2)] }] });
    // What autovacuum does soon after a new deployment's first entries.
    await dataSource.query(`ANALYZE "${schema}"."chronicle_outbox"`);
    // A relay at work on a three-entry outbox: past the five runs after which PostgreSQL builds and
    // keeps the claim's generic plan. Later claims find nothing.
    let claimed = 0;
    // One relay run: claim, then mark what it claimed published (an aggregate's later entries wait
    // behind its leased ones).
    const relay = async (): Promise<number> => {
      const entries = await store.claim(HANDLER, 'relay', { limit: 500, leaseMs: 60_000 });
      if (entries.length > 0) expect(await store.markPublished(HANDLER, 'relay', entries.map((entry) => entry.id))).toBe(entries.length);
      return entries.length;
    };
    for (let claim = 0; claim < 8; claim++) claimed += await relay();
    expect(claimed).toBe(3);

    // A burst of 3,000 entries over 300 aggregates, before autovacuum's next ANALYZE; the relay claims on.
    for (let i = 0; i < 30; i++) {
      await journal.append({
        writes: Array.from({ length: 10 }, (_, k) => ({ streamId: `bulk-${i}-${k}`, aggregateType: 'item', expectedVersion: 0, events: Array.from({ length: 10 }, (_, n) => event(n)) })),
      });
    }
    for (let claim = 0; claim < 16; claim++) claimed += await relay();
    expect(claimed).toBe(3003);

    // Both claims ran their generic plans (the kept ones EXPLAIN shows below). The store's estimate
    // of the outbox's size counts the entries it wrote and those it claimed.
    const generation = planGeneration(3003 + claimed);
    for (const n of [0, generation]) expect(await genericPlanRuns(dataSource, preparedStatementPattern(RELAY_PREFIX, n), CLAIM)).toBeGreaterThan(0);
    // The hazard is real here: the claim's plan kept while the outbox was small scans the table.
    const small = await keptPlans(dataSource, preparedStatementPattern(RELAY_PREFIX, 0), CLAIM);
    expect(small).toHaveLength(1);
    expect(small[0]).toMatch(OUTBOX_SEQ_SCAN);
    // The claims after the burst run a statement of their own, planned for the outbox as it is.
    const grown = await keptPlans(dataSource, preparedStatementPattern(RELAY_PREFIX, generation), CLAIM);
    expect(grown).toHaveLength(1);
    expect(grown[0]).toMatch(OUTBOX_BY_INDEX);
    expect(grown[0]).not.toMatch(OUTBOX_SEQ_SCAN);
  });
});
