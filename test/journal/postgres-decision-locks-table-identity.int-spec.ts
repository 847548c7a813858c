import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AppendConditionConflictError, ChronicleError } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { conditionalAppend, openedWrite, ownerQuery } from '../support/conditional-appends.js';
import { raceConditionalAppends } from '../support/conditional-append-race.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

// Decision lock keys are hashed from the events table's identity as the database resolves it, not
// from its name as configured: instances that spell one table differently (one names its schema,
// another reaches it through its search_path) must take the same keys, or each locks alone and
// two decisions on one read both commit.

const query = ownerQuery('ann');

/** The namespace lookup's statement (`decisionLockNamespace`); the feed's bound also calls to_regclass. */
const LOOKUP = 'pg_catalog.pg_namespace';

await describePostgres('Decision locks: one events table, two spellings of its name', () => {
  let database: TestDatabase;
  let viaSearchPath: DataSource;
  const sent: string[] = [];
  beforeEach(async () => {
    database = await openPostgresSchema();
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${database.tables.schema!}`);
    viaSearchPath = new DataSource({ type: 'postgres', url: url.toString(), poolSize: 4 });
    await viaSearchPath.initialize();
    sent.length = 0;
    const logQuery = viaSearchPath.logger.logQuery.bind(viaSearchPath.logger);
    viaSearchPath.logger.logQuery = (text, parameters, runner) => {
      sent.push(text);
      return logQuery(text, parameters, runner);
    };
  });
  afterEach(async () => {
    await viaSearchPath.destroy();
    await database.close();
  });

  it('never commits two conditional appends on one read of one tag, whichever way each instance names the schema', async () => {
    const qualified = new TypeOrmJournal(database.dataSource, database.tables);
    const unqualified = new TypeOrmJournal(viaSearchPath, {});
    const observer = await database.openAnother({ poolSize: 1 });
    expect((await unqualified.readByQuery(query)).events).toHaveLength(0);
    // The first unit (transactional path) held open; the second (one-round-trip path) waits for
    // its lock only if both take the same keys, then fails on its committed event.
    const { waiting, first, second } = await raceConditionalAppends(qualified, unqualified, observer);
    expect(waiting).toHaveLength(1);
    expect(first).toBe('committed');
    expect(second).toBeInstanceOf(AppendConditionConflictError);
    expect((await qualified.readByQuery(query)).events).toHaveLength(1);
  }, 60_000);

  it('asks the database for the namespace once per journal, not once per append', async () => {
    const journal = new TypeOrmJournal(viaSearchPath, {});
    for (let round = 0; round < 3; round++) {
      const { next } = await journal.readByQuery([{ tags: [`round:${round}`] }]);
      await journal.append(conditionalAppend([{ tags: [`round:${round}`] }], next, openedWrite(['owner:ann'])));
    }
    expect(sent.filter((text) => text.includes(LOOKUP))).toHaveLength(1);
  }, 60_000);

  it('refuses a conditional append on an events table that does not exist, saying what to do, and asks again on the next one', async () => {
    const journal = new TypeOrmJournal(viaSearchPath, { tablePrefix: 'missing_' });
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await journal.append(conditionalAppend(query, null, openedWrite(['owner:ann']))).then(
        () => 'committed',
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ChronicleError);
      expect(error).toMatchObject({ code: 'EventsTableMissing' });
      expect((error as Error).message).toMatch(/run Chronicle's migrations/);
    }
    expect(sent.filter((text) => text.includes(LOOKUP))).toHaveLength(2);
  }, 60_000);
});
