import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { FeedCursor } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { planGeneration } from '../../libs/typeorm/src/transactions/plan-generation.js';
import { testWrite } from '../support/journal-writes.js';
import { genericPlanRuns } from '../support/generic-plan-runs.js';
import { keptPlans } from '../support/kept-plans.js';
import { preparedStatementPattern } from '../support/prepared-statement-pattern.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const EVENTS_SEQ_SCAN = /Seq Scan on chronicle_events/;
const EVENTS_BY_INDEX = /Index Scan using chronicle_events_tx_position_idx on chronicle_events/;
/** The feed statement that works the bound out, after a cursor (`feedQuery`'s text). */
const WORKS_THE_BOUND_OUT = '::bigint) AND e.tx_id < (SELECT xid FROM bound)';
/** The feed statement below a remembered bound, after a cursor (the bound is its first parameter). */
const BELOW_A_BOUND = '::bigint) AND e.tx_id < $1::xid8';

/** The feed statements' names in a plan generation, as `readAll` prepares them. */
function feedStatements(generation: number): string {
  return preparedStatementPattern('chronicle_feed_', generation);
}

await describePostgres('PostgreSQL feed: prepared statements as the journal grows', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  it('reads by index once the journal has grown, though the plans kept while it was small scan it', async () => {
    // One connection: the statements prepared on it are the ones every read runs, and the plans it
    // keeps are the ones EXPLAIN shows there.
    const dataSource = await database.openAnother({ poolSize: 1 });
    const { schema } = database.tables;
    // No ANALYZE may rebuild a plan mid-test (autovacuum's would, on a busy machine).
    await dataSource.query(`ALTER TABLE "${schema}"."chronicle_events" SET (autovacuum_enabled = off)`);
    const journal = new TypeOrmJournal(dataSource, database.tables);
    const first = await journal.append({ writes: [testWrite('plan', 'small', 0, 3)] });
    const early = first.streams[0]!.events[0]!.cursor!;
    // What autovacuum does soon after a new deployment's first events: the statistics then say the
    // table is small, and every plan made from now on believes it until the next ANALYZE.
    await dataSource.query(`ANALYZE "${schema}"."chronicle_events"`);
    // On a three-event journal, past the five runs after which PostgreSQL builds and keeps a
    // statement's generic plan: a subscription reading at the head (the statement that works the
    // bound out), and a catch-up reading full pages (the second page below the first one's bound).
    for (let read = 0; read < 8; read++) {
      expect((await journal.readAll(early, 1000)).events).toHaveLength(2);
      const page = await journal.readAll(null, 1);
      expect((await journal.readAll(page.next, 1)).events).toHaveLength(1);
    }

    // The journal grows by 3,000 events (a burst before autovacuum's next ANALYZE); the reader
    // reads it (which tells the journal how large it has grown), then reads on at the head, and a
    // catch-up reads its last 1,000 events in full pages.
    let latest: FeedCursor | null = null;
    for (let i = 0; i < 30; i++) latest = (await journal.append({ writes: [testWrite('plan', `bulk-${i}`, 0, 100)] })).cursor ?? null;
    const all = (await journal.readAll(null, 5000)).events;
    expect(all).toHaveLength(3003);
    expect(all.at(-1)!.cursor).toBe(latest);
    const nearHead = all.at(-11)!.cursor!;
    for (let read = 0; read < 8; read++) expect((await journal.readAll(nearHead, 1000)).events).toHaveLength(10);
    let cursor: FeedCursor | null = all.at(-1001)!.cursor!;
    let caughtUp = 0;
    for (let page = await journal.readAll(cursor, 100); page.events.length > 0; page = await journal.readAll(cursor, 100)) {
      caughtUp += page.events.length;
      cursor = page.next;
    }
    expect(caughtUp).toBe(1000);

    // The hazard is real here: the plans kept for both statements while the journal was small scan
    // and sort the whole table, and would be used for every read until an ANALYZE.
    const [small, grown] = [planGeneration(3), planGeneration(3003)];
    for (const text of [WORKS_THE_BOUND_OUT, BELOW_A_BOUND]) {
      expect(await genericPlanRuns(dataSource, feedStatements(small), text)).toBeGreaterThan(0);
      expect(await genericPlanRuns(dataSource, feedStatements(grown), text)).toBeGreaterThan(0);
    }
    for (const text of [WORKS_THE_BOUND_OUT, BELOW_A_BOUND]) {
      const before = await keptPlans(dataSource, feedStatements(small), text);
      expect(before).toHaveLength(1);
      expect(before[0]).toMatch(EVENTS_SEQ_SCAN);
      // The reads after the burst run statements of their own, planned for the table as it is.
      const after = await keptPlans(dataSource, feedStatements(grown), text);
      expect(after).toHaveLength(1);
      expect(after[0]).toMatch(EVENTS_BY_INDEX);
      expect(after[0]).not.toMatch(EVENTS_SEQ_SCAN);
    }
  });
});
