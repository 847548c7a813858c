import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { InvalidArgumentError } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { failureOf } from '../../libs/testing/src/contracts/failure-of.js';
import { conditionalAppend, openedWrite, ownerQuery } from '../support/conditional-appends.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

// A read's end cursor (`<transaction id>:<largest position>`, just below the feed's bound) names no
// event, so PostgreSQL checks it by its transaction id alone: it is accepted when this cluster has
// assigned that id, whichever journal handed it out (the README states this limit), and refused
// when the cluster never assigned it. A cursor naming an event of another journal is refused by
// the contract suite (`eventQueryContract`).

const query = ownerQuery('ann');
const LARGEST_POSITION = 2n ** 63n - 1n;

await describePostgres('PostgreSQL: end cursors this cluster never handed out', () => {
  let database: TestDatabase;
  let journal: TypeOrmJournal;
  beforeEach(async () => {
    database = await openPostgresSchema();
    journal = new TypeOrmJournal(database.dataSource, database.tables);
  });
  afterEach(async () => {
    await database.close();
  });

  it('refuses one whose transaction id this cluster has not assigned, as a condition or a read, writing nothing', async () => {
    const { next } = await journal.readByQuery(query);
    // The same shape as `next`, its transaction id far past any this cluster has assigned.
    expect(next).toMatch(new RegExp(`^\\d+:${LARGEST_POSITION}$`));
    const ahead = `${2n ** 62n}:${LARGEST_POSITION}`;
    const error = await failureOf(journal.append(conditionalAppend(query, ahead, openedWrite(['owner:ann']))));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument: 'condition.after' });
    expect(await failureOf(journal.readByQuery(query, { after: ahead }))).toBeInstanceOf(InvalidArgumentError);
    expect((await journal.readByQuery(query)).events).toHaveLength(0);
  });
});
