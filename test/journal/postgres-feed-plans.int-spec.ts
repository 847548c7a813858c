import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { FeedCursor } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { planGeneration } from '../../libs/typeorm/src/transactions/plan-generation.js';
import { testWrite } from '../support/journal-writes.js';
import { keptPlans } from '../support/kept-plans.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** The events table accessed in a plan, however it is read. */
const EVENTS_SEQ_SCAN = /Seq Scan on chronicle_events/;
const EVENTS_BY_INDEX = /Index Scan using chronicle_events_tx_position_idx on chronicle_events/;

await describePostgres('PostgreSQL feed: prepared statements as the journal grows', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  it('reads by index once the journal has grown, though the plan kept while it was small scans it', async () => {
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
    // A subscription reading at the head of a three-event journal: past the five runs after which
    // PostgreSQL builds and keeps the statement's generic plan.
    for (let read = 0; read < 8; read++) expect((await journal.readAll(early, 1000)).events).toHaveLength(2);

    // The journal grows by 3,000 events (a burst before autovacuum's next ANALYZE), and the
    // subscription reads on at the head.
    let latest: FeedCursor | null = null;
    for (let i = 0; i < 30; i++) latest = (await journal.append({ writes: [testWrite('plan', `bulk-${i}`, 0, 100)] })).cursor ?? null;
    const head = (await journal.readAll(latest, 10)).next;
    expect(head).toBe(latest);
    const all = (await journal.readAll(null, 5000)).events;
    expect(all).toHaveLength(3003);
    const nearHead = all.at(-11)!.cursor!;
    for (let read = 0; read < 8; read++) expect((await journal.readAll(nearHead, 1000)).events).toHaveLength(10);

    // The hazard is real here: the plan kept for the statement while the journal was small scans
    // and sorts the whole table, and would be used for every read until an ANALYZE.
    const small = await keptPlans(dataSource, `chronicle\\_feed\\_%\\_${planGeneration(3)}`, '(e.tx_id, e.position) >');
    expect(small).toHaveLength(1);
    expect(small[0]).toMatch(EVENTS_SEQ_SCAN);
    // The reads near position 3,000 run a statement of their own, planned for the table as it is.
    const grown = await keptPlans(dataSource, `chronicle\\_feed\\_%\\_${planGeneration(3003)}`, '(e.tx_id, e.position) >');
    expect(grown).toHaveLength(1);
    expect(grown[0]).toMatch(EVENTS_BY_INDEX);
    expect(grown[0]).not.toMatch(EVENTS_SEQ_SCAN);
  });
});
