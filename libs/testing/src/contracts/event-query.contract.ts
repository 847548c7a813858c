import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, itEach } from './contract-runner.js';
import { useContractRunner, type ContractRunner } from './contract-runner.js';
import {
  AppendConditionConflictError,
  ConcurrencyError,
  EVENT_QUERY_LIMITS,
  InvalidArgumentError,
  type AppendRequest,
  type EventQuery,
  type FeedCursor,
  type Journal,
  type NewEvent,
  type RecordedEvent,
  type UnitOfWorkParticipant,
} from '@chronicle/core';
import { failureOf } from './failure-of.js';
import type { JournalContractHarness } from './journal.contract.js';

/** Races run many rounds over two pools, so they get room. */
const RACE_TIMEOUT_MS = 120_000;
const OCCURRED_AT = new Date(Date.UTC(2024, 1, 29, 13, 45, 30, 123));
const OPENED = 'account.opened';
const CLOSED = 'account.closed';

function event(type: string, tags: string[], payload: unknown = {}): NewEvent {
  return { eventId: randomUUID(), type, schemaVersion: 1, payload, metadata: {}, tags, occurredAt: new Date(OCCURRED_AT) };
}

function nth<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`expected an item at index ${index}, found ${items.length} items`);
  return item;
}

function idsOf(events: readonly { eventId: string }[]): string[] {
  return events.map((recorded) => recorded.eventId);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Holds each unit open a moment after its events are written, so that concurrent units really overlap. */
const lingering: UnitOfWorkParticipant = { participate: () => delay(2) };

/** Appends events to a stream of their own (a new stream per call), unconditionally. */
async function appendFree(journal: Journal, ...events: NewEvent[]): Promise<RecordedEvent[]> {
  const result = await journal.append({ writes: [{ streamId: `free-${randomUUID()}`, aggregateType: 'thing', expectedVersion: 0, events }] });
  return result.streams.flatMap((stream) => stream.events);
}

/** A conditional unit writing `events` to a new stream. */
function conditional(query: EventQuery, after: FeedCursor | null, ...events: NewEvent[]): AppendRequest {
  return {
    writes: [{ streamId: `decision-${randomUUID()}`, aggregateType: 'decision', expectedVersion: 0, events }],
    condition: { failIfEventsMatch: query, after },
  };
}

/** Everything in the journal, through the query that matches every event. */
async function everything(journal: Journal): Promise<RecordedEvent[]> {
  return (await journal.readByQuery([{}])).events;
}

/**
 * One decision of the "at most `limit` open accounts per owner" rule: read the owner's events,
 * count, and open one more with the condition that nothing of that owner changed since the read;
 * retried on a condition conflict. True when it opened an account, false when the limit was reached.
 */
async function openAccount(journal: Journal, owner: string, limit: number): Promise<boolean> {
  const query: EventQuery = [{ types: [OPENED, CLOSED], tags: [`owner:${owner}`] }];
  for (let attempt = 0; attempt < 1000; attempt++) {
    const { events, next } = await journal.readByQuery(query);
    const open = events.filter((recorded) => recorded.type === OPENED).length - events.filter((recorded) => recorded.type === CLOSED).length;
    if (open >= limit) return false;
    try {
      await journal.append(conditional(query, next, event(OPENED, [`owner:${owner}`, `account:${randomUUID()}`])));
      return true;
    } catch (error) {
      if (!(error instanceof AppendConditionConflictError)) throw error;
    }
  }
  throw new Error('a decision kept conflicting for 1000 attempts');
}

/**
 * The contract of queries by type and tag (`Journal.readByQuery`) and of conditional appends
 * (dynamic consistency boundaries), for every `Journal` implementation: one `describe` named
 * `Event query contract: <implementation>`, a fresh store per test. It takes the journal
 * contract's harness; the races use `openSecond` when the implementation has it (a second pool,
 * as a second process would have), else the one journal.
 */
export function eventQueryContract(implementation: string, open: () => Promise<JournalContractHarness>, runner?: ContractRunner): void {
  useContractRunner(runner);
  describe(`Event query contract: ${implementation}`, () => {
    let harness: JournalContractHarness;
    let journal: Journal;

    beforeEach(async () => {
      harness = await open();
      journal = harness.journal;
    });

    afterEach(async () => {
      await harness.close();
    });

    describe('readByQuery', () => {
      let written: RecordedEvent[];

      beforeEach(async () => {
        written = [
          ...(await appendFree(journal, event(OPENED, ['owner:ann', 'account:1']), event('course.defined', ['course:c1']))),
          ...(await appendFree(journal, event(OPENED, ['owner:bob', 'account:2']))),
          ...(await appendFree(journal, event(CLOSED, ['owner:ann', 'account:1']), event('untagged', []))),
        ];
      });

      it('matches a type-only item on the type, whatever the tags', async () => {
        expect((await journal.readByQuery([{ types: [OPENED] }])).events).toEqual([nth(written, 0), nth(written, 2)]);
        expect((await journal.readByQuery([{ types: [OPENED, 'untagged'] }])).events).toEqual([nth(written, 0), nth(written, 2), nth(written, 4)]);
        expect((await journal.readByQuery([{ types: ['never.happened'] }])).events).toEqual([]);
      });

      it('matches a tag-only item on events carrying all its tags, whatever the type', async () => {
        expect((await journal.readByQuery([{ tags: ['owner:ann'] }])).events).toEqual([nth(written, 0), nth(written, 3)]);
        expect((await journal.readByQuery([{ tags: ['owner:ann', 'account:1'] }])).events).toEqual([nth(written, 0), nth(written, 3)]);
        expect((await journal.readByQuery([{ tags: ['owner:ann', 'account:2'] }])).events).toEqual([]);
        expect((await journal.readByQuery([{ tags: ['owner:'] }])).events).toEqual([]);
      });

      it('matches an item with types and tags only on events that have both', async () => {
        expect((await journal.readByQuery([{ types: [OPENED], tags: ['owner:ann'] }])).events).toEqual([nth(written, 0)]);
        expect((await journal.readByQuery([{ types: [CLOSED], tags: ['owner:bob'] }])).events).toEqual([]);
      });

      it('matches any of several items, each event once, in feed order', async () => {
        const query: EventQuery = [{ tags: ['owner:ann'] }, { types: [OPENED] }, { types: ['course.defined'], tags: ['course:c1'] }];
        expect((await journal.readByQuery(query)).events).toEqual(written.slice(0, 4));
      });

      it('matches every event with the item {} (the query that names nothing)', async () => {
        expect(await everything(journal)).toEqual(written);
        expect((await journal.readByQuery([{ types: [], tags: [] }])).events).toEqual(written);
      });

      it('reads after a cursor and stops at the limit; the next cursor continues without a skip or a repeat', async () => {
        const query: EventQuery = [{ types: [OPENED, CLOSED] }];
        const first = await journal.readByQuery(query, { limit: 2 });
        expect(first.events).toEqual([nth(written, 0), nth(written, 2)]);
        const rest = await journal.readByQuery(query, { after: first.next });
        expect(rest.events).toEqual([nth(written, 3)]);
        expect((await journal.readByQuery(query, { after: rest.next })).events).toEqual([]);
        expect((await journal.readByQuery(query, { limit: 0 })).events).toEqual([]);
        const later = await appendFree(journal, event(CLOSED, ['owner:bob']));
        expect((await journal.readByQuery(query, { after: rest.next })).events).toEqual(later);
      });

      it('reads an empty journal, or a query nothing matches, with a cursor a condition accepts', async () => {
        const fresh = await open();
        try {
          const page = await fresh.journal.readByQuery([{ tags: ['anything'] }]);
          expect(page.events).toEqual([]);
          await fresh.journal.append(conditional([{ tags: ['anything'] }], page.next, event(OPENED, ['anything'])));
          expect(await everything(fresh.journal)).toHaveLength(1);
        } finally {
          await fresh.close();
        }
      });

      it('reads the events of conditional appends like any other, in the feed too', async () => {
        const { next } = await journal.readByQuery([{ tags: ['owner:cid'] }]);
        const result = await journal.append(conditional([{ tags: ['owner:cid'] }], next, event(OPENED, ['owner:cid'])));
        const appended = result.streams.flatMap((stream) => stream.events);
        expect((await journal.readByQuery([{ tags: ['owner:cid'] }])).events).toEqual(appended);
        const feed = await journal.readAll(null, 100);
        expect(idsOf(feed.events)).toEqual(idsOf([...written, ...appended]));
      });
    });

    describe('conditional append', () => {
      const ann: EventQuery = [{ types: [OPENED, CLOSED], tags: ['owner:ann'] }];

      it('commits when no matching event was committed after the cursor (after at the head)', async () => {
        await appendFree(journal, event(OPENED, ['owner:ann']));
        const { events, next } = await journal.readByQuery(ann);
        expect(events).toHaveLength(1);
        const result = await journal.append(conditional(ann, next, event(OPENED, ['owner:ann'])));
        expect((await journal.readByQuery(ann)).events).toEqual([nth(events, 0), ...result.streams.flatMap((stream) => stream.events)]);
      });

      it('refuses, naming the query and the first conflicting event, when a matching event came after the cursor; writes nothing', async () => {
        const { next } = await journal.readByQuery(ann);
        const [first] = await appendFree(journal, event(CLOSED, ['owner:ann', 'account:9']));
        await appendFree(journal, event(OPENED, ['owner:ann']));
        const before = await everything(journal);
        const request = conditional(ann, next, event(OPENED, ['owner:ann']));
        request.commands = [
          {
            commandId: `cmd-${randomUUID()}`,
            fingerprint: 'f',
            streamId: nth(request.writes, 0).streamId,
            aggregateType: 'decision',
            outcome: { kind: 'accepted', fromVersion: 1, toVersion: 1 },
            recordedAt: new Date(OCCURRED_AT),
          },
        ];
        const error = await failureOf(journal.append(request));
        expect(error).toBeInstanceOf(AppendConditionConflictError);
        expect(error).toMatchObject({ name: 'AppendConditionConflictError', query: ann, after: next, conflictingEvent: first });
        expect(await everything(journal)).toEqual(before);
        expect(await journal.streamVersion(nth(request.writes, 0).streamId)).toBe(0);
        expect(await journal.findCommand(nth(request.commands, 0).commandId)).toBeUndefined();
      });

      it('ignores matching events at or before the cursor, and events after it that do not match', async () => {
        await appendFree(journal, event(OPENED, ['owner:ann']));
        const { next } = await journal.readByQuery(ann);
        await appendFree(journal, event(OPENED, ['owner:bob']), event('other.type', ['owner:ann']), event(OPENED, []));
        await journal.append(conditional(ann, next, event(OPENED, ['owner:ann'])));
        expect((await journal.readByQuery(ann)).events).toHaveLength(2);
      });

      it('refuses a second decision made on the same read: the first one changed the facts', async () => {
        const { next } = await journal.readByQuery(ann);
        await journal.append(conditional(ann, next, event(OPENED, ['owner:ann'])));
        const error = await failureOf(journal.append(conditional(ann, next, event(OPENED, ['owner:ann']))));
        expect(error).toBeInstanceOf(AppendConditionConflictError);
        expect((await journal.readByQuery(ann)).events).toHaveLength(1);
      });

      it('with a null cursor, refuses when any matching event exists and commits when none does', async () => {
        await journal.append(conditional(ann, null, event(OPENED, ['owner:ann'])));
        expect(await failureOf(journal.append(conditional(ann, null, event(OPENED, ['owner:ann']))))).toBeInstanceOf(AppendConditionConflictError);
        await journal.append(conditional([{ tags: ['owner:bob'] }], null, event(OPENED, ['owner:bob'])));
      });

      it('conflicts on a type-only item with any event of the type, and on a tag-only item with any event carrying the tag', async () => {
        const typeOnly: EventQuery = [{ types: ['course.defined'] }];
        const tagOnly: EventQuery = [{ tags: ['course:c1'] }];
        const typeRead = await journal.readByQuery(typeOnly);
        const tagRead = await journal.readByQuery(tagOnly);
        await appendFree(journal, event('course.defined', ['course:c2']), event('student.subscribed', ['course:c1']));
        expect(await failureOf(journal.append(conditional(typeOnly, typeRead.next, event('course.defined', ['course:c3']))))).toBeInstanceOf(
          AppendConditionConflictError,
        );
        expect(await failureOf(journal.append(conditional(tagOnly, tagRead.next, event('x', ['course:c1']))))).toBeInstanceOf(
          AppendConditionConflictError,
        );
      });

      it('conflicts when any of several items matches, and {} conflicts with every event', async () => {
        const several: EventQuery = [{ tags: ['course:c1'] }, { types: ['student.registered'], tags: ['student:s1'] }];
        const { next } = await journal.readByQuery(several);
        await appendFree(journal, event('student.registered', ['student:s1']));
        expect(await failureOf(journal.append(conditional(several, next, event('x', []))))).toBeInstanceOf(AppendConditionConflictError);
        const all = await journal.readByQuery([{}]);
        await appendFree(journal, event('anything', []));
        expect(await failureOf(journal.append(conditional([{}], all.next, event('x', []))))).toBeInstanceOf(AppendConditionConflictError);
      });

      it('does not conflict with its own events', async () => {
        const { next } = await journal.readByQuery(ann);
        await journal.append(conditional(ann, next, event(OPENED, ['owner:ann']), event(CLOSED, ['owner:ann'])));
        expect((await journal.readByQuery(ann)).events).toHaveLength(2);
      });

      it('holds a condition and an expected version together: either failing writes nothing', async () => {
        await journal.append({ writes: [{ streamId: 'owner-ann', aggregateType: 'owner', expectedVersion: 0, events: [event('owner.registered', ['owner:ann'])] }] });
        const { next } = await journal.readByQuery(ann);
        const unit = (expectedVersion: number): AppendRequest => ({
          writes: [
            { streamId: 'owner-ann', aggregateType: 'owner', expectedVersion, events: [event('owner.touched', [])] },
            { streamId: `account-${randomUUID()}`, aggregateType: 'account', expectedVersion: 0, events: [event(OPENED, ['owner:ann'])] },
          ],
          condition: { failIfEventsMatch: ann, after: next },
        });
        const versionError = await failureOf(journal.append(unit(0)));
        expect(versionError).toBeInstanceOf(ConcurrencyError);
        expect(versionError).toMatchObject({ streamId: 'owner-ann', expectedVersion: 0, actualVersion: 1 });
        await journal.append(unit(1));
        expect(await journal.streamVersion('owner-ann')).toBe(2);
        expect(await failureOf(journal.append(unit(2)))).toBeInstanceOf(AppendConditionConflictError);
        expect(await journal.streamVersion('owner-ann')).toBe(2);
        expect((await journal.readByQuery(ann)).events).toHaveLength(1);
      });
    });

    describe('bad input', () => {
      const tooLong = 'x'.repeat(EVENT_QUERY_LIMITS.maxLength + 1);
      const badQueries: readonly [string, unknown][] = [
        ['no items', []],
        ['not a list', { types: [OPENED] }],
        ['too many items', Array.from({ length: EVENT_QUERY_LIMITS.maxItems + 1 }, (_, index) => ({ tags: [`t${index}`] }))],
        ['too many tags', [{ tags: Array.from({ length: EVENT_QUERY_LIMITS.maxTags + 1 }, (_, index) => `t${index}`) }]],
        ['too many types', [{ types: Array.from({ length: EVENT_QUERY_LIMITS.maxTypesPerItem + 1 }, (_, index) => `t${index}`) }]],
        ['an oversized tag', [{ tags: [tooLong] }]],
        ['an oversized type', [{ types: [tooLong] }]],
        ['an empty tag', [{ tags: [''] }]],
        ['a tag that is not a string', [{ tags: [7] }]],
        ['an item that is not an object', ['owner:ann']],
      ];
      const names = badQueries.map(([name]) => name);
      const queryNamed = (name: string): EventQuery => badQueries.find(([candidate]) => candidate === name)![1] as EventQuery;

      itEach(names)('refuses a query with %p by name, reading nothing', async (name) => {
        const error = await failureOf(journal.readByQuery(queryNamed(name)));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toEqual(expect.stringMatching(/^query/));
      });

      itEach(names)('refuses a condition with %p by name, writing nothing', async (name) => {
        const error = await failureOf(journal.append(conditional(queryNamed(name), null, event(OPENED, []))));
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).argument).toEqual(expect.stringMatching(/^condition\.failIfEventsMatch/));
        expect(await everything(journal)).toEqual([]);
      });

      it('refuses a conditional append of an event with too many or oversized tags, writing nothing', async () => {
        const many = Array.from({ length: EVENT_QUERY_LIMITS.maxTags + 1 }, (_, index) => `t${index}`);
        for (const tags of [many, [tooLong]]) {
          expect(await failureOf(journal.append(conditional([{ tags: ['t0'] }], null, event(OPENED, tags))))).toBeInstanceOf(InvalidArgumentError);
        }
        expect(await everything(journal)).toEqual([]);
      });

      it('refuses a cursor from another database, or a malformed one, as a condition or a read, writing nothing', async () => {
        const other = await open();
        let foreign: FeedCursor;
        try {
          const events = await appendFree(other.journal, event('a', []), event('b', []), event('c', []));
          foreign = nth(events, 2).cursor!;
        } finally {
          await other.close();
        }
        await appendFree(journal, event('a', []));
        const before = await everything(journal);
        for (const cursor of [foreign, 'not-a-cursor']) {
          const error = await failureOf(journal.append(conditional([{ types: ['a'] }], cursor, event('a', []))));
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect(error).toMatchObject({ argument: 'condition.after' });
          expect(await failureOf(journal.readByQuery([{ types: ['a'] }], { after: cursor }))).toBeInstanceOf(InvalidArgumentError);
        }
        expect(await everything(journal)).toEqual(before);
      });
    });

    describe('concurrent decisions', () => {
      it(
        'commits exactly the allowed number of many concurrent decisions on one tag, across two journals over one store',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : journal;
          for (const each of new Set([journal, second])) each.addParticipant(lingering);
          const limit = 5;
          const outcomes = await Promise.all(Array.from({ length: 16 }, (_, index) => openAccount(index % 2 === 0 ? journal : second, 'ann', limit)));
          expect(outcomes.filter(Boolean)).toHaveLength(limit);
          expect((await journal.readByQuery([{ types: [OPENED], tags: ['owner:ann'] }])).events).toHaveLength(limit);
        },
        RACE_TIMEOUT_MS,
      );

      it(
        'never commits both of two decisions whose conditions match each other\'s events, round after round',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : journal;
          for (const each of new Set([journal, second])) each.addParticipant(lingering);
          for (let round = 0; round < 20; round++) {
            const query: EventQuery = [{ tags: [`seat:${round}`] }];
            const { next } = await journal.readByQuery(query);
            const outcomes = await Promise.allSettled([
              journal.append(conditional(query, next, event('seat.taken', [`seat:${round}`, 'by:first']))),
              second.append(conditional(query, next, event('seat.taken', [`seat:${round}`, 'by:second']))),
            ]);
            expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
            for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(AppendConditionConflictError);
            expect((await journal.readByQuery(query)).events).toHaveLength(1);
          }
        },
        RACE_TIMEOUT_MS,
      );

      it(
        'never lets decisions on disjoint tags conflict, though they append the same event type at once',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : journal;
          for (const each of new Set([journal, second])) each.addParticipant(lingering);
          const owners = Array.from({ length: 16 }, (_, index) => `owner-${index}`);
          const reads = await Promise.all(owners.map((owner) => journal.readByQuery([{ types: [OPENED], tags: [`owner:${owner}`] }])));
          await Promise.all(
            owners.map((owner, index) =>
              (index % 2 === 0 ? journal : second).append(
                conditional([{ types: [OPENED], tags: [`owner:${owner}`] }], nth(reads, index).next, event(OPENED, [`owner:${owner}`])),
              ),
            ),
          );
          expect((await journal.readByQuery([{ types: [OPENED] }])).events).toHaveLength(owners.length);
        },
        RACE_TIMEOUT_MS,
      );
    });
  });
}
