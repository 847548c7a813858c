import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { AppendConditionConflictError, InMemoryJournal, InvalidArgumentError, type AppendCondition, type CommandRecord, type Journal } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { failureOf } from '../../libs/testing/src/contracts/failure-of.js';
import { openedWrite, ownerQuery } from '../support/conditional-appends.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, openSqliteMemory, type TestDatabase } from '../support/typeorm-test-data-sources.js';

// A decision that refuses a command (or decides nothing) appends no event: it records only its
// outcome, `writes: []`, on its condition. The condition must hold for that unit as for any other,
// or a refusal made on facts a concurrent unit changed is recorded and replayed.

const query = ownerQuery('ann');

function refusal(): CommandRecord {
  return {
    commandId: `cmd-${randomUUID()}`,
    fingerprint: 'f',
    streamId: 'owner_accounts-x',
    aggregateType: 'owner_accounts',
    outcome: { kind: 'rejected', error: { name: 'DomainRuleViolation', message: 'limit reached' } },
    recordedAt: new Date(),
  } as CommandRecord;
}

/** A condition on a read made stale by a matching event committed after it. */
async function staleCondition(journal: Journal): Promise<AppendCondition> {
  const { next } = await journal.readByQuery(query);
  await journal.append({ writes: [openedWrite(['owner:ann'])] });
  return { failIfEventsMatch: query, after: next };
}

async function staleOutcomeIsRefused(journal: Journal): Promise<void> {
  const condition = await staleCondition(journal);
  const record = refusal();
  expect(await failureOf(journal.append({ writes: [], commands: [record], condition }))).toBeInstanceOf(AppendConditionConflictError);
  expect(await journal.findCommand(record.commandId)).toBeUndefined();
  // Without a command record either.
  expect(await failureOf(journal.append({ writes: [], commands: [], condition }))).toBeInstanceOf(AppendConditionConflictError);
}

it('in memory: an outcome-only conditional append (writes: []) on a stale read is refused, recording nothing', async () => {
  await staleOutcomeIsRefused(new InMemoryJournal());
});

it('SQLite: an outcome-only conditional append (writes: []) on a stale read is refused, recording nothing', async () => {
  const database = await openSqliteMemory();
  try {
    await staleOutcomeIsRefused(new TypeOrmJournal(database.dataSource, database.tables));
  } finally {
    await database.close();
  }
});

await describePostgres('PostgreSQL: outcome-only conditional appends (writes: [])', () => {
  let database: TestDatabase;
  let journal: TypeOrmJournal;
  beforeEach(async () => {
    database = await openPostgresSchema();
    journal = new TypeOrmJournal(database.dataSource, database.tables);
  });
  afterEach(async () => {
    await database.close();
  });

  it('refuses one made on a stale read, recording nothing', async () => {
    await staleOutcomeIsRefused(journal);
  });

  it('refuses one whose cursor this journal did not hand out, recording nothing', async () => {
    await journal.append({ writes: [openedWrite(['owner:bob'])] });
    const record = refusal();
    // A well-formed cursor naming no event of this journal (transaction 3 is PostgreSQL's frozen id).
    const error = await failureOf(journal.append({ writes: [], commands: [record], condition: { failIfEventsMatch: query, after: '3:1' } }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument: 'condition.after' });
    expect(await journal.findCommand(record.commandId)).toBeUndefined();
  });

  it('fails a batch of them when a condition no longer holds, recording nothing', async () => {
    const condition = await staleCondition(journal);
    const record = refusal();
    expect(await journal.appendConditionalBatch([{ writes: [], commands: [record], condition }])).toBeUndefined();
    expect(await journal.findCommand(record.commandId)).toBeUndefined();
  });
});
