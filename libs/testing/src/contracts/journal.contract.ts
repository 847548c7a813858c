import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, itEach } from './contract-runner.js';
import { useContractRunner, type ContractRunner } from './contract-runner.js';
import {
  ConcurrencyError,
  DuplicateCommandError,
  InvalidArgumentError,
  type AppendRequest,
  type AppendResult,
  type CommandRecord,
  type EventMetadata,
  type Journal,
  type NewEvent,
  type RecordedEvent,
  type StreamWrite,
  type UnitOfWorkParticipant,
} from '@chronicle/core';
import { failureOf } from './failure-of.js';
import { BAD_INTEGERS, expectInvalidArgument, LARGE_INTEGERS } from './integer-arguments.js';

/** What a `Journal` implementation hands the contract suite for one test. */
export interface JournalContractHarness {
  /** A journal over a fresh, empty store. */
  journal: Journal;
  /** Opens another journal over the SAME store as a second process would (its own connection/pool). Omit when the implementation cannot (in-memory). */
  openSecond?: () => Promise<Journal>;
  /** Closes everything opened (including journals from openSecond). */
  close(): Promise<void>;
}

/** Races run many rounds (and PostgreSQL may detect a deadlock per round), so they get room. */
const RACE_TIMEOUT_MS = 60_000;
const RACE_ROUNDS = 20;
const OCCURRED_AT = new Date(Date.UTC(2024, 1, 29, 13, 45, 30, 123));
const RECORDED_AT = new Date(Date.UTC(2024, 5, 1, 8, 0, 0, 456));

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'thing.happened',
    schemaVersion: 1,
    payload: { n: 1 },
    metadata: {},
    tags: [],
    occurredAt: new Date(OCCURRED_AT),
    ...overrides,
  };
}

function newEvents(count: number, label = 'event'): NewEvent[] {
  return Array.from({ length: count }, (_, index) => newEvent({ payload: { label, index } }));
}

function write(
  streamId: string,
  expectedVersion: number,
  events: NewEvent[] | number,
  aggregateType = 'thing',
): StreamWrite {
  return { streamId, aggregateType, expectedVersion, events: typeof events === 'number' ? newEvents(events) : events };
}

function commandRecord(overrides: Partial<CommandRecord> = {}): CommandRecord {
  return {
    commandId: `cmd-${randomUUID()}`,
    fingerprint: 'sha256:6f1ed002ab5595859014ebf0951522d9',
    streamId: 'account-1',
    aggregateType: 'account',
    outcome: { kind: 'accepted', fromVersion: 1, toVersion: 1 },
    recordedAt: new Date(RECORDED_AT),
    ...overrides,
  };
}

/** Inclusive integer range. */
function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, index) => from + index);
}

function versionsOf(events: readonly RecordedEvent[]): number[] {
  return events.map((event) => event.version);
}

function idsOf(events: readonly { eventId: string }[]): string[] {
  return events.map((event) => event.eventId);
}

function nth<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`expected an item at index ${index}, found ${items.length} items`);
  return item;
}

function eventsOf(result: AppendResult): RecordedEvent[] {
  return result.streams.flatMap((stream) => stream.events);
}

function expectConcurrencyError(error: unknown, streamId: string, expectedVersion: number, actualVersion: number): void {
  expect(error).toBeInstanceOf(ConcurrencyError);
  expect(error).toMatchObject({ name: 'ConcurrencyError', streamId, expectedVersion, actualVersion });
}

function expectStrictlyIncreasing(values: readonly number[]): void {
  values.forEach((value, index) => {
    if (index > 0) expect(value).toBeGreaterThan(nth(values, index - 1));
  });
}

/** The order every implementation lists stream ids in: code points (UTF-8 bytes), never a locale. */
function byCodePoint(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Holds each unit open a moment after its events are written, so that concurrent units really
 * overlap (in memory, a unit that never awaits cannot race at all).
 */
const lingering: UnitOfWorkParticipant = { participate: () => delay(2) };

function linger(journals: readonly Journal[]): void {
  for (const journal of new Set(journals)) journal.addParticipant(lingering);
}

/** The whole feed, page by page, with a guard against a cursor that never advances. */
async function readWholeFeed(journal: Journal, pageSize = 1000): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const next = await journal.readAll(cursor, pageSize);
    if (next.events.length === 0) return all;
    all.push(...next.events);
    cursor = next.next;
  }
  throw new Error('readAll kept returning events: its cursor does not advance');
}

/**
 * Several journals append the same version of one stream at once, round after round: exactly one
 * wins, every other fails with `ConcurrencyError`, and the stream holds the winner's events only.
 * Contender i writes i + 1 events, so which one was stored is unambiguous.
 */
async function raceForOneVersion(contenders: readonly Journal[], reader: Journal): Promise<void> {
  linger(contenders);
  for (let round = 0; round < RACE_ROUNDS; round++) {
    const streamId = `race-${round}`;
    // Even rounds race to create the stream, odd rounds to extend it: different code paths in SQL.
    const base = round % 2 === 0 ? 0 : 2;
    const seeded = base > 0 ? eventsOf(await reader.append({ writes: [write(streamId, 0, base)] })) : [];
    const writes = contenders.map((_, index) => write(streamId, base, newEvents(index + 1, `contender-${index}`)));
    const outcomes = await Promise.allSettled(
      contenders.map((journal, index) => journal.append({ writes: [nth(writes, index)] })),
    );

    const winners = outcomes.flatMap((outcome, index) => (outcome.status === 'fulfilled' ? [index] : []));
    expect(winners).toHaveLength(1);
    const winner = nth(winners, 0);
    const winnerCount = winner + 1;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(ConcurrencyError);
        expect(outcome.reason).toMatchObject({ streamId, expectedVersion: base });
        // The loser learns of the conflict only after the winner committed, so a known actual
        // version can only be the winner's.
        const actual = (outcome.reason as ConcurrencyError).actualVersion;
        if (actual !== undefined) expect(actual).toBe(base + winnerCount);
      }
    }

    const stored = await reader.readStream(streamId);
    expect(idsOf(stored)).toEqual([...idsOf(seeded), ...idsOf(nth(writes, winner).events)]);
    expect(versionsOf(stored)).toEqual(range(1, base + winnerCount));
    expect(await reader.streamVersion(streamId)).toBe(base + winnerCount);
  }
}

/**
 * The contract every `Journal` implementation must pass: one `describe` named
 * `Journal contract: <implementation>`, with a fresh harness (an empty store) per test.
 *
 * Tests that need a second process use `openSecond` and pass trivially without it. Stream ids are
 * listed in code-point order (UTF-8 byte order, `COLLATE "C"` on PostgreSQL), the one order every
 * store can agree on.
 *
 * The tests are declared with `runner` (Jest's or Vitest's functions), or with the runner's
 * globals when it is omitted.
 */
export function journalContract(implementation: string, open: () => Promise<JournalContractHarness>, runner?: ContractRunner): void {
  useContractRunner(runner);
  describe(`Journal contract: ${implementation}`, () => {
    let harness: JournalContractHarness;
    let journal: Journal;

    beforeEach(async () => {
      harness = await open();
      journal = harness.journal;
    });

    afterEach(async () => {
      await harness.close();
    });

    describe('readStream', () => {
      const streamId = 'order-1';
      let written: RecordedEvent[];

      beforeEach(async () => {
        written = eventsOf(await journal.append({ writes: [write(streamId, 0, 5, 'order')] }));
      });

      it('replays every event in version order', async () => {
        const events = await journal.readStream(streamId);
        expect(versionsOf(events)).toEqual([1, 2, 3, 4, 5]);
        expect(events).toEqual(written);
      });

      it('starts at fromVersion, inclusive', async () => {
        const events = await journal.readStream(streamId, { fromVersion: 3 });
        expect(versionsOf(events)).toEqual([3, 4, 5]);
        expect(events).toEqual(written.slice(2));
      });

      it('stops at toVersion, inclusive', async () => {
        expect(versionsOf(await journal.readStream(streamId, { toVersion: 2 }))).toEqual([1, 2]);
      });

      it('returns at most limit events, from the lowest version', async () => {
        expect(versionsOf(await journal.readStream(streamId, { limit: 2 }))).toEqual([1, 2]);
      });

      it('applies fromVersion, toVersion and limit together', async () => {
        expect(versionsOf(await journal.readStream(streamId, { fromVersion: 2, toVersion: 4, limit: 2 }))).toEqual([2, 3]);
        expect(versionsOf(await journal.readStream(streamId, { fromVersion: 2, toVersion: 4, limit: 10 }))).toEqual([
          2, 3, 4,
        ]);
      });

      it('returns exactly one event when fromVersion equals toVersion', async () => {
        const events = await journal.readStream(streamId, { fromVersion: 3, toVersion: 3 });
        expect(events).toEqual([nth(written, 2)]);
      });

      it('returns the first event with limit 1', async () => {
        expect(await journal.readStream(streamId, { limit: 1 })).toEqual([nth(written, 0)]);
      });

      it('returns no events with limit 0', async () => {
        expect(await journal.readStream(streamId, { limit: 0 })).toEqual([]);
      });

      it('returns no events when fromVersion is above toVersion', async () => {
        expect(await journal.readStream(streamId, { fromVersion: 4, toVersion: 2 })).toEqual([]);
      });

      it('returns no events past the end, and everything when toVersion is past it', async () => {
        expect(await journal.readStream(streamId, { fromVersion: 6 })).toEqual([]);
        expect(versionsOf(await journal.readStream(streamId, { toVersion: 99 }))).toEqual([1, 2, 3, 4, 5]);
      });
    });

    it('treats a never-written stream as empty: no events, version 0, no info', async () => {
      await journal.append({ writes: [write('other', 0, 2)] });
      expect(await journal.readStream('never-written')).toEqual([]);
      expect(await journal.streamVersion('never-written')).toBe(0);
      expect(await journal.streamInfo('never-written')).toBeUndefined();
    });

    describe('streamVersion and streamInfo', () => {
      it('streamVersion returns the highest version of that stream only', async () => {
        await journal.append({ writes: [write('counted', 0, 3)] });
        await journal.append({ writes: [write('counted', 3, 2)] });
        await journal.append({ writes: [write('neighbour', 0, 7)] });
        expect(await journal.streamVersion('counted')).toBe(5);
        expect(await journal.streamVersion('neighbour')).toBe(7);
      });

      it('streamInfo returns the aggregate type, version and deletedUpTo', async () => {
        await journal.append({ writes: [write('info-1', 0, 5, 'invoice')] });
        expect(await journal.streamInfo('info-1')).toEqual({
          streamId: 'info-1',
          aggregateType: 'invoice',
          version: 5,
          deletedUpTo: 0,
        });
      });
    });

    describe('logical deletion', () => {
      const streamId = 'ledger-1';
      let written: RecordedEvent[];

      beforeEach(async () => {
        written = eventsOf(await journal.append({ writes: [write(streamId, 0, 5, 'ledger')] }));
      });

      it('deletes up to a version: later events stay readable and the version stays', async () => {
        await journal.deleteStream(streamId, 2);
        expect(await journal.readStream(streamId)).toEqual(written.slice(2));
        expect(await journal.streamVersion(streamId)).toBe(5);
        expect(await journal.streamInfo(streamId)).toEqual({
          streamId,
          aggregateType: 'ledger',
          version: 5,
          deletedUpTo: 2,
        });
      });

      it('applies bounds and limit to the events that are left', async () => {
        await journal.deleteStream(streamId, 2);
        expect(versionsOf(await journal.readStream(streamId, { fromVersion: 1, limit: 2 }))).toEqual([3, 4]);
        expect(versionsOf(await journal.readStream(streamId, { fromVersion: 4 }))).toEqual([4, 5]);
        expect(await journal.readStream(streamId, { toVersion: 2 })).toEqual([]);
      });

      it('deletes a whole stream: nothing is readable and the version stays', async () => {
        await journal.deleteStream(streamId);
        expect(await journal.readStream(streamId)).toEqual([]);
        expect(await journal.streamVersion(streamId)).toBe(5);
        expect(await journal.streamInfo(streamId)).toEqual({
          streamId,
          aggregateType: 'ledger',
          version: 5,
          deletedUpTo: 5,
        });
      });

      it('continues the numbering after a full deletion', async () => {
        await journal.deleteStream(streamId);
        const result = await journal.append({ writes: [write(streamId, 5, 1, 'ledger')] });
        expect(nth(result.streams, 0)).toMatchObject({ fromVersion: 6, toVersion: 6 });
        expect(versionsOf(await journal.readStream(streamId))).toEqual([6]);
        expect(await journal.streamVersion(streamId)).toBe(6);
      });

      it('continues the numbering after a partial deletion', async () => {
        await journal.deleteStream(streamId, 2);
        await journal.append({ writes: [write(streamId, 5, 2, 'ledger')] });
        expect(versionsOf(await journal.readStream(streamId))).toEqual([3, 4, 5, 6, 7]);
      });

      it('refuses to restart a deleted stream at version 0', async () => {
        await journal.deleteStream(streamId);
        const error = await failureOf(journal.append({ writes: [write(streamId, 0, 1, 'ledger')] }));
        expectConcurrencyError(error, streamId, 0, 5);
        expect(await journal.streamVersion(streamId)).toBe(5);
        expect(await journal.readStream(streamId)).toEqual([]);
      });

      it('leaves other streams alone', async () => {
        const other = eventsOf(await journal.append({ writes: [write('ledger-2', 0, 3, 'ledger')] }));
        await journal.deleteStream(streamId);
        expect(await journal.readStream('ledger-2')).toEqual(other);
        expect(await journal.streamInfo('ledger-2')).toMatchObject({ version: 3, deletedUpTo: 0 });
      });
    });

    describe('append', () => {
      it('writes several events of one write atomically with contiguous versions', async () => {
        const events = newEvents(3);
        const result = await journal.append({ writes: [write('batch-1', 0, events, 'batch')] });

        expect(result.streams).toHaveLength(1);
        const appended = nth(result.streams, 0);
        expect(appended).toMatchObject({ streamId: 'batch-1', aggregateType: 'batch', fromVersion: 1, toVersion: 3 });
        expect(versionsOf(appended.events)).toEqual([1, 2, 3]);
        appended.events.forEach((recorded, index) => {
          expect(recorded).toEqual({
            ...nth(events, index),
            streamId: 'batch-1',
            aggregateType: 'batch',
            version: index + 1,
            position: expect.any(Number),
            cursor: expect.any(String),
          });
        });
        expectStrictlyIncreasing(appended.events.map((event) => event.position));
        expect(typeof result.cursor).toBe('string');
        expect(await journal.readStream('batch-1')).toEqual(appended.events);
      });

      it('gives every event a cursor that orders it in the feed, the same in appends, stream reads and feed reads', async () => {
        const first = await journal.append({ writes: [write('cursor-a', 0, newEvents(2), 'cursor')] });
        const second = await journal.append({ writes: [write('cursor-b', 0, newEvents(1), 'cursor')] });
        const appended = [...nth(first.streams, 0).events, ...nth(second.streams, 0).events];
        const fed = (await journal.readAll(null, 100)).events.filter((event) => event.streamId.startsWith('cursor-'));
        expect(fed.map((event) => event.cursor)).toEqual(appended.map((event) => event.cursor));
        expect((await journal.readStream('cursor-a')).map((event) => event.cursor)).toEqual(appended.slice(0, 2).map((event) => event.cursor));
        const cursors = appended.map((event) => event.cursor!);
        expect(journal.compareCursors(cursors[0]!, cursors[1]!)).toBeLessThan(0);
        expect(journal.compareCursors(cursors[2]!, cursors[1]!)).toBeGreaterThan(0);
        expect(journal.compareCursors(cursors[1]!, cursors[1]!)).toBe(0);
        expect(first.cursor).toBe(cursors[1]);
        expect(() => journal.compareCursors('not a cursor', cursors[0]!)).toThrow(/not a cursor/);
        expect(await journal.headPosition()).toBeGreaterThanOrEqual(Math.max(...appended.map((event) => event.position)));
      });

      it('continues a stream from its expected version with later positions', async () => {
        const first = await journal.append({ writes: [write('grow-1', 0, 3)] });
        const second = await journal.append({ writes: [write('grow-1', 3, 2)] });
        expect(nth(second.streams, 0)).toMatchObject({ fromVersion: 4, toVersion: 5 });
        expect(versionsOf(nth(second.streams, 0).events)).toEqual([4, 5]);
        const positions = [...eventsOf(first), ...eventsOf(second)].map((event) => event.position);
        expectStrictlyIncreasing(positions);
      });

      it('writes several streams in one unit and reports them in request order', async () => {
        const result = await journal.append({
          writes: [write('multi-b', 0, 2, 'beta'), write('multi-a', 0, 1, 'alpha')],
        });
        expect(result.streams.map(({ streamId, aggregateType, fromVersion, toVersion }) => ({
          streamId,
          aggregateType,
          fromVersion,
          toVersion,
        }))).toEqual([
          { streamId: 'multi-b', aggregateType: 'beta', fromVersion: 1, toVersion: 2 },
          { streamId: 'multi-a', aggregateType: 'alpha', fromVersion: 1, toVersion: 1 },
        ]);
        expect(await journal.readStream('multi-b')).toEqual(nth(result.streams, 0).events);
        expect(await journal.readStream('multi-a')).toEqual(nth(result.streams, 1).events);
        expect(new Set(eventsOf(result).map((event) => event.position)).size).toBe(3);
      });

      it('writes nothing of a multi-stream unit when one of its writes conflicts', async () => {
        await journal.append({ writes: [write('atomic-b', 0, 1)] });
        const error = await failureOf(
          journal.append({ writes: [write('atomic-a', 0, 2), write('atomic-b', 0, 1)] }),
        );
        expectConcurrencyError(error, 'atomic-b', 0, 1);
        expect(await journal.readStream('atomic-a')).toEqual([]);
        expect(await journal.streamVersion('atomic-a')).toBe(0);
        expect(await journal.streamInfo('atomic-a')).toBeUndefined();
        expect(await journal.streamVersion('atomic-b')).toBe(1);
        expect(await readWholeFeed(journal)).toHaveLength(1);
      });

      it('writes nothing of a multi-stream unit when an existing stream moved on, naming that stream', async () => {
        await journal.append({ writes: [write('moved-a', 0, 1), write('moved-b', 0, 1), write('moved-c', 0, 1)] });
        await journal.append({ writes: [write('moved-b', 1, 1)] });
        const error = await failureOf(
          journal.append({ writes: [write('moved-a', 1, 1), write('moved-b', 1, 1), write('moved-c', 1, 1), write('moved-d', 0, 1)] }),
        );
        expectConcurrencyError(error, 'moved-b', 1, 2);
        expect(await journal.streamVersion('moved-a')).toBe(1);
        expect(await journal.streamVersion('moved-b')).toBe(2);
        expect(await journal.streamVersion('moved-c')).toBe(1);
        expect(await journal.streamInfo('moved-d')).toBeUndefined();
        expect(await readWholeFeed(journal)).toHaveLength(4);
      });

      it('copies data in and out: mutating what was passed or returned changes nothing stored', async () => {
        const payload = { nested: { value: 1 }, list: [1] };
        const metadata: EventMetadata = { correlationId: 'corr-1', custom: { a: 1 } };
        const tags = ['kept'];
        const event = newEvent({ payload, metadata, tags });
        const result = await journal.append({ writes: [write('copy-1', 0, [event])] });

        payload.nested.value = 99;
        payload.list.push(2);
        metadata.correlationId = 'changed';
        tags.push('added');
        event.occurredAt.setTime(0);
        const returned = nth(eventsOf(result), 0);
        (returned.payload as typeof payload).nested.value = 77;
        returned.tags.push('added');
        returned.occurredAt.setTime(0);
        const read = nth(await journal.readStream('copy-1'), 0);
        (read.payload as typeof payload).list.push(3);
        read.metadata.correlationId = 'changed';

        expect(nth(await journal.readStream('copy-1'), 0)).toMatchObject({
          payload: { nested: { value: 1 }, list: [1] },
          metadata: { correlationId: 'corr-1', custom: { a: 1 } },
          tags: ['kept'],
          occurredAt: OCCURRED_AT,
        });
      });
    });

    describe('optimistic concurrency', () => {
      beforeEach(async () => {
        await journal.append({ writes: [write('occ-1', 0, 2)] });
      });

      it('refuses a write that expects an older version, naming expected and actual', async () => {
        const error = await failureOf(journal.append({ writes: [write('occ-1', 1, 1)] }));
        expectConcurrencyError(error, 'occ-1', 1, 2);
      });

      it('refuses to create a stream that exists', async () => {
        const error = await failureOf(journal.append({ writes: [write('occ-1', 0, 1)] }));
        expectConcurrencyError(error, 'occ-1', 0, 2);
      });

      it('refuses a write that expects a version the stream has not reached', async () => {
        const error = await failureOf(journal.append({ writes: [write('occ-1', 3, 1)] }));
        expectConcurrencyError(error, 'occ-1', 3, 2);
      });

      it('refuses a write that expects a never-written stream to exist', async () => {
        const error = await failureOf(journal.append({ writes: [write('occ-new', 1, 1)] }));
        expectConcurrencyError(error, 'occ-new', 1, 0);
        expect(await journal.streamInfo('occ-new')).toBeUndefined();
      });

      it('writes nothing when it refuses', async () => {
        const before = await journal.readStream('occ-1');
        const record = commandRecord();
        await failureOf(journal.append({ writes: [write('occ-1', 1, 3)], commands: [record] }));
        expect(await journal.readStream('occ-1')).toEqual(before);
        expect(await journal.streamVersion('occ-1')).toBe(2);
        expect(await journal.findCommand(record.commandId)).toBeUndefined();
        expect(await readWholeFeed(journal)).toEqual(before);
      });
    });

    describe('concurrent writers', () => {
      it(
        'lets exactly one of several appends to the same version win, in one process',
        async () => {
          await raceForOneVersion([journal, journal, journal, journal], journal);
        },
        RACE_TIMEOUT_MS,
      );

      it(
        'lets exactly one of several appends to the same version win, across two journals over one store',
        async () => {
          if (!harness.openSecond) return;
          const second = await harness.openSecond();
          await raceForOneVersion([journal, second, journal, second], journal);
          expect(await second.streamVersion('race-0')).toBe(await journal.streamVersion('race-0'));
        },
        RACE_TIMEOUT_MS,
      );

      it(
        'never deadlocks when two units write the same two streams in opposite order',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : journal;
          linger([journal, second]);
          const rounds = 10;
          for (let round = 0; round < rounds; round++) {
            const a = await journal.streamVersion('pair-a');
            const b = await journal.streamVersion('pair-b');
            const outcomes = await Promise.allSettled([
              journal.append({ writes: [write('pair-a', a, 1), write('pair-b', b, 1)] }),
              second.append({ writes: [write('pair-b', b, 1), write('pair-a', a, 1)] }),
            ]);
            for (const outcome of outcomes) {
              if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ConcurrencyError);
            }
            expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
          }
          for (const streamId of ['pair-a', 'pair-b']) {
            expect(versionsOf(await journal.readStream(streamId))).toEqual(range(1, rounds));
            expect(versionsOf(await second.readStream(streamId))).toEqual(range(1, rounds));
          }
        },
        RACE_TIMEOUT_MS,
      );

      it(
        'accepts concurrent appends to different streams, each with unique positions',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : journal;
          linger([journal, second]);
          const count = 20;
          const results = await Promise.all(
            range(1, count).map((index) =>
              (index % 2 === 0 ? journal : second).append({ writes: [write(`parallel-${index}`, 0, 2)] }),
            ),
          );
          for (const [index, result] of results.entries()) {
            expect(await journal.readStream(`parallel-${index + 1}`)).toEqual(eventsOf(result));
          }
          const feed = await readWholeFeed(journal);
          expect(feed).toHaveLength(count * 2);
          expect(new Set(feed.map((event) => event.position)).size).toBe(count * 2);
        },
        RACE_TIMEOUT_MS,
      );
    });

    describe('round trip', () => {
      it('keeps metadata and tags exactly', async () => {
        const metadata: EventMetadata = {
          commandId: 'cmd-42',
          correlationId: 'corr-7',
          causationId: 'cause-3',
          expectedVersion: 4,
          custom: { nested: { list: [1, 'two', null, true, { deep: -2.5 }] }, emptyObject: {}, emptyList: [] },
          note: 'ünïcödé "quoted" \\ back',
        };
        const tags = ['tenant:acme', 'with space', 'ünï', 'quote"d', 'back\\slash'];
        await journal.append({
          writes: [write('meta-1', 0, [newEvent({ metadata, tags }), newEvent({ metadata: {}, tags: [] })])],
        });
        const [first, second] = await journal.readStream('meta-1');
        expect(first?.metadata).toEqual(metadata);
        expect(first?.tags).toEqual(tags);
        expect(second?.metadata).toEqual({});
        expect(second?.tags).toEqual([]);
      });

      it('keeps eventId, type, schemaVersion, payload and occurredAt to the millisecond', async () => {
        const payload = {
          text: 'Grüße, 世界 🌍 — עברית, e\u0301, "quotes" \'single\' \\ back\nline\ttab',
          numbers: { zero: 0, negative: -17, fraction: 0.1, pi: 3.141592653589793, maxSafe: 9007199254740991, tiny: 1e-7, huge: 1e21 },
          flags: [true, false, null],
          nested: { level1: { level2: { level3: ['deep', { x: 1 }] } } },
          empty: { object: {}, array: [], string: '' },
        };
        const events = [
          newEvent({ type: 'order.placed.v2', schemaVersion: 3, payload, occurredAt: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)) }),
          newEvent({ type: 'order.placed.v2', schemaVersion: 1, payload: {}, occurredAt: new Date(Date.UTC(2100, 0, 1, 0, 0, 0, 1)) }),
        ];
        await journal.append({ writes: [write('payload-1', 0, events)] });
        const read = await journal.readStream('payload-1');
        read.forEach((recorded, index) => {
          const original = nth(events, index);
          expect(recorded.eventId).toBe(original.eventId);
          expect(recorded.type).toBe(original.type);
          expect(recorded.schemaVersion).toBe(original.schemaVersion);
          expect(recorded.payload).toEqual(original.payload);
          expect(recorded.occurredAt).toBeInstanceOf(Date);
          expect(recorded.occurredAt.getTime()).toBe(original.occurredAt.getTime());
          expect(typeof recorded.position).toBe('number');
        });
        expect(read).toHaveLength(2);
      });

      it('returns the same event from readStream, readAll and readByTag', async () => {
        await journal.append({ writes: [write('paths-1', 0, [newEvent({ tags: ['path'], metadata: { correlationId: 'c' } })])] });
        await journal.append({ writes: [write('paths-2', 0, [newEvent({ tags: ['path'], payload: { x: [1, { y: 'z' }] } })])] });
        const fromStreams = [...(await journal.readStream('paths-1')), ...(await journal.readStream('paths-2'))];
        expect((await journal.readAll(null, 100)).events).toEqual(fromStreams);
        expect(await journal.readByTag('path')).toEqual(fromStreams);
      });
    });

    describe('stream ids', () => {
      it('treats quotes, backslashes, SQL, unicode, patterns and 500-character ids as plain data', async () => {
        const victim = eventsOf(await journal.append({ writes: [write('victim', 0, 2)] }));
        const ids = [
          `it's "quoted"`,
          'back\\slash\\\\',
          "'; drop table x; --",
          '"; drop table x; --',
          'ünïcødé 流 🚀',
          'x'.repeat(500),
          '100%_match',
          'Case',
          'case',
          'pad',
          'pad ',
        ];
        for (const id of ids) {
          await journal.append({ writes: [write(id, 0, [newEvent({ payload: { id } })], 'odd')] });
        }
        for (const id of ids) {
          const events = await journal.readStream(id);
          expect(events).toHaveLength(1);
          expect(nth(events, 0)).toMatchObject({ streamId: id, version: 1, payload: { id } });
          expect(await journal.streamVersion(id)).toBe(1);
          expect(await journal.streamInfo(id)).toEqual({ streamId: id, aggregateType: 'odd', version: 1, deletedUpTo: 0 });
        }
        const listed = await journal.listStreams();
        expect([...listed].sort(byCodePoint)).toEqual([...ids, 'victim'].sort(byCodePoint));

        await journal.deleteStream("'; drop table x; --");
        expect(await journal.readStream("'; drop table x; --")).toEqual([]);
        expect(await journal.readStream('"; drop table x; --')).toHaveLength(1);
        expect(await journal.readStream('victim')).toEqual(victim);
        expect(await journal.streamVersion('victim')).toBe(2);
      });
    });

    describe('command records', () => {
      it('stores an accepted outcome with its events', async () => {
        const record = commandRecord({
          outcome: { kind: 'accepted', fromVersion: 1, toVersion: 2, cursor: 'opaque-cursor-1' },
        });
        await journal.append({ writes: [write('account-1', 0, 2, 'account')], commands: [record] });
        const found = await journal.findCommand(record.commandId);
        expect(found).toEqual(record);
        expect(found?.recordedAt.getTime()).toBe(RECORDED_AT.getTime());
        if (found) found.outcome = { kind: 'accepted', fromVersion: 9, toVersion: 9 };
        expect(await journal.findCommand(record.commandId)).toEqual(record);
      });

      it('stores rejected outcomes with and without details', async () => {
        const withDetails = commandRecord({
          outcome: {
            kind: 'rejected',
            error: {
              name: 'InsufficientFunds',
              code: 'INSUFFICIENT_FUNDS',
              message: 'Account "account-1" holds 10.5, "25" were requested',
              details: { balance: 10.5, requested: 25, nested: { list: [1, 'two', null], flag: false }, note: 'ü' },
            },
          },
        });
        const withoutDetails = commandRecord({
          outcome: { kind: 'rejected', error: { name: 'DomainRuleViolation', code: 'DomainRuleViolation', message: 'no' } },
        });
        await journal.append({ writes: [], commands: [withDetails] });
        await journal.append({ writes: [], commands: [withoutDetails] });
        expect(await journal.findCommand(withDetails.commandId)).toEqual(withDetails);
        expect(await journal.findCommand(withoutDetails.commandId)).toEqual(withoutDetails);
      });

      it('finds nothing for an unknown command id', async () => {
        await journal.append({ writes: [], commands: [commandRecord()] });
        expect(await journal.findCommand('cmd-unknown')).toBeUndefined();
      });

      it('records a rejection with no stream writes', async () => {
        const record = commandRecord({
          outcome: { kind: 'rejected', error: { name: 'DomainRuleViolation', code: 'RULE', message: 'refused' } },
        });
        const result = await journal.append({ writes: [], commands: [record] });
        expect(result.streams).toEqual([]);
        expect(result.cursor).toBeUndefined();
        expect(await journal.findCommand(record.commandId)).toEqual(record);
        expect(await readWholeFeed(journal)).toEqual([]);
      });

      it('stores every command record of one unit', async () => {
        const first = commandRecord({ streamId: 'grouped-a' });
        const second = commandRecord({ streamId: 'grouped-b' });
        await journal.append({
          writes: [write('grouped-a', 0, 1, 'account'), write('grouped-b', 0, 1, 'account')],
          commands: [first, second],
        });
        expect(await journal.findCommand(first.commandId)).toEqual(first);
        expect(await journal.findCommand(second.commandId)).toEqual(second);
      });

      it('refuses a command id that already has a record and writes nothing, not even the events', async () => {
        const original = commandRecord({ fingerprint: 'original' });
        await journal.append({ writes: [write('dup-1', 0, 1)], commands: [original] });

        const retry = commandRecord({ commandId: original.commandId, fingerprint: 'retry' });
        const error = await failureOf(
          journal.append({ writes: [write('dup-1', 1, 1), write('dup-2', 0, 2)], commands: [retry] }),
        );
        expect(error).toBeInstanceOf(DuplicateCommandError);
        expect(error).toMatchObject({ name: 'DuplicateCommandError', commandId: original.commandId });
        expect(await journal.streamVersion('dup-1')).toBe(1);
        expect(await journal.streamInfo('dup-2')).toBeUndefined();
        expect(await readWholeFeed(journal)).toHaveLength(1);
        expect(await journal.findCommand(original.commandId)).toEqual(original);
      });

      it("writes a unit tagged with its committer's origin like any other, and refuses a malformed origin by name, writing nothing", async () => {
        const origin = '6c1f0d4e-2b7a-4d7e-9a51-0f2c3b4a5d6e';
        const tagged = await journal.append({ writes: [write('origin-1', 0, 2)], origin });
        expect(tagged.streams[0]?.events.map((event) => event.version)).toEqual([1, 2]);
        const before = await readWholeFeed(journal);
        for (const bad of ['', 'x'.repeat(65), "it's", 'line\nbreak', 'nul\u0000', 42, null]) {
          const record = commandRecord();
          const error = await failureOf(journal.append({ writes: [write('origin-2', 0, 1)], commands: [record], origin: bad as string }));
          expect(error).toBeInstanceOf(InvalidArgumentError);
          expect(error).toMatchObject({ argument: 'origin', value: bad });
          expect((error as Error).message.startsWith('origin must be 1–64 letters')).toBe(true);
          expect(await journal.streamInfo('origin-2')).toBeUndefined();
          expect(await journal.findCommand(record.commandId)).toBeUndefined();
        }
        expect(await readWholeFeed(journal)).toEqual(before);
      });

      it('refuses a command id repeated within one unit', async () => {
        const record = commandRecord();
        const error = await failureOf(
          journal.append({ writes: [write('dup-3', 0, 1)], commands: [record, { ...record, streamId: 'elsewhere' }] }),
        );
        expect(error).toBeInstanceOf(DuplicateCommandError);
        expect(error).toMatchObject({ commandId: record.commandId });
        expect(await journal.streamVersion('dup-3')).toBe(0);
        expect(await journal.findCommand(record.commandId)).toBeUndefined();
      });

      it('pruneCommands deletes only records older than the cutoff and returns how many', async () => {
        const times = [Date.UTC(2024, 0, 1, 0, 0, 0, 0), Date.UTC(2024, 0, 2, 0, 0, 0, 0), Date.UTC(2024, 0, 3, 0, 0, 0, 0)];
        const records = times.map((time) => commandRecord({ recordedAt: new Date(time) }));
        for (const record of records) await journal.append({ writes: [], commands: [record] });
        const [oldest, middle, newest] = [nth(records, 0), nth(records, 1), nth(records, 2)];

        // The cutoff is exclusive: a record taken exactly at it is not older, so it stays.
        expect(await journal.pruneCommands(new Date(nth(times, 1)))).toBe(1);
        expect(await journal.findCommand(oldest.commandId)).toBeUndefined();
        expect(await journal.findCommand(middle.commandId)).toEqual(middle);
        expect(await journal.findCommand(newest.commandId)).toEqual(newest);
        expect(await journal.pruneCommands(new Date(nth(times, 1)))).toBe(0);
        expect(await journal.pruneCommands(new Date(Date.UTC(2030, 0, 1)))).toBe(2);
        expect(await journal.findCommand(newest.commandId)).toBeUndefined();
      });
    });

    describe('readAll', () => {
      it('returns every event from the beginning, in commit order', async () => {
        const results: AppendResult[] = [];
        results.push(await journal.append({ writes: [write('feed-a', 0, 2)] }));
        results.push(await journal.append({ writes: [write('feed-b', 0, 1)] }));
        results.push(await journal.append({ writes: [write('feed-a', 2, 1)] }));
        results.push(await journal.append({ writes: [write('feed-c', 0, 3)] }));
        results.push(await journal.append({ writes: [write('feed-b', 1, 2)] }));
        const all = results.flatMap(eventsOf);

        const page = await journal.readAll(null, 1000);
        expect(page.events).toEqual(all);
        expect(page.next).not.toBeNull();
        expectStrictlyIncreasing(page.events.map((event) => event.position));
        for (const streamId of ['feed-a', 'feed-b', 'feed-c']) {
          const versions = versionsOf(page.events.filter((event) => event.streamId === streamId));
          expect(versions).toEqual(range(1, versions.length));
        }
      });

      it('pages with a small limit, visiting every event exactly once', async () => {
        const all: RecordedEvent[] = [];
        for (let index = 0; index < 4; index++) {
          all.push(...eventsOf(await journal.append({ writes: [write(`page-${index % 2}`, Math.floor(index / 2) * 3, 3)] })));
        }
        const seen: RecordedEvent[] = [];
        let cursor: string | null = null;
        for (let guard = 0; guard < 100; guard++) {
          const page = await journal.readAll(cursor, 5);
          expect(page.events.length).toBeLessThanOrEqual(5);
          if (page.events.length === 0) break;
          seen.push(...page.events);
          cursor = page.next;
        }
        expect(seen).toEqual(all);
      });

      it('at the end returns no events and the same cursor, which still reads later appends', async () => {
        await journal.append({ writes: [write('tail-1', 0, 3)] });
        const full = await journal.readAll(null, 1000);
        expect(full.events).toHaveLength(3);
        const end = await journal.readAll(full.next, 1000);
        expect(end.events).toEqual([]);
        expect(end.next).toEqual(full.next);

        const later = eventsOf(await journal.append({ writes: [write('tail-1', 3, 1), write('tail-2', 0, 1)] }));
        const after = await journal.readAll(end.next, 1000);
        expect(after.events).toEqual(later);
      });

      it('from an empty journal returns no events and a cursor that reads later appends', async () => {
        const empty = await journal.readAll(null, 10);
        expect(empty).toEqual({ events: [], next: null });
        const later = eventsOf(await journal.append({ writes: [write('first-ever', 0, 2)] }));
        expect((await journal.readAll(empty.next, 10)).events).toEqual(later);
      });

      it("reads on from an append result's cursor", async () => {
        const first = await journal.append({ writes: [write('cursor-1', 0, 2)] });
        const second = await journal.append({ writes: [write('cursor-2', 0, 1)] });
        expect(first.cursor).toBeDefined();
        expect((await journal.readAll(first.cursor ?? null, 100)).events).toEqual(eventsOf(second));
        expect((await journal.readAll(second.cursor ?? null, 100)).events).toEqual([]);
      });

      it(
        'never skips an event whose unit commits after a unit with a later position',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : journal;
          let entered: () => void = () => undefined;
          const participantEntered = new Promise<void>((resolve) => {
            entered = resolve;
          });
          let release: () => void = () => undefined;
          const gate = new Promise<void>((resolve) => {
            release = resolve;
          });
          journal.addParticipant({
            participate: async (_tx, request) => {
              if (request.writes[0]?.streamId !== 'slow') return;
              entered();
              await gate;
            },
          });

          const slow = journal.append({ writes: [write('slow', 0, 1)] });
          await Promise.race([participantEntered, slow]);
          // The slow unit has written (taken its position) and is held open; the fast one may
          // commit meanwhile or wait, depending on how the implementation serialises writers.
          const fast = second.append({ writes: [write('fast', 0, 1)] });
          const released = delay(400).then(release);
          await Promise.race([fast.catch(() => undefined), delay(200)]);
          // Whatever it reports while a unit is held open, asking must not fail.
          await second.feedBlocker();
          const early = await second.readAll(null, 100);
          await released;
          const written = [...eventsOf(await slow), ...eventsOf(await fast)];
          const late = await second.readAll(early.next, 100);

          const seen = idsOf([...early.events, ...late.events]);
          expect([...seen].sort()).toEqual(idsOf(written).sort());
        },
        RACE_TIMEOUT_MS,
      );
    });

    describe('readByTag', () => {
      let tagged: RecordedEvent[];

      beforeEach(async () => {
        const specs: [string, string[]][] = [
          ['tags-1', ['red']],
          ['tags-2', ['blue']],
          ['tags-1', ['red', 'blue']],
          ['tags-3', []],
          ['tags-2', ['red']],
        ];
        tagged = [];
        for (const [streamId, tags] of specs) {
          const version = await journal.streamVersion(streamId);
          tagged.push(...eventsOf(await journal.append({ writes: [write(streamId, version, [newEvent({ tags })])] })));
        }
      });

      it('returns only the events with the tag, in position order', async () => {
        const red = await journal.readByTag('red');
        expect(red).toEqual([nth(tagged, 0), nth(tagged, 2), nth(tagged, 4)]);
        expect(await journal.readByTag('blue')).toEqual([nth(tagged, 1), nth(tagged, 2)]);
        expect(await journal.readByTag('green')).toEqual([]);
      });

      it('starts after afterPosition and stops at limit', async () => {
        const first = nth(tagged, 0).position;
        expect(await journal.readByTag('red', { afterPosition: first })).toEqual([nth(tagged, 2), nth(tagged, 4)]);
        expect(await journal.readByTag('red', { limit: 1 })).toEqual([nth(tagged, 0)]);
        expect(await journal.readByTag('red', { afterPosition: first, limit: 1 })).toEqual([nth(tagged, 2)]);
        expect(await journal.readByTag('red', { afterPosition: nth(tagged, 4).position })).toEqual([]);
      });

      it('matches whole tags, never prefixes or patterns', async () => {
        const odd = eventsOf(
          await journal.append({
            writes: [
              write('tags-4', 0, [
                newEvent({ tags: ['reddish'] }),
                newEvent({ tags: ['abc'] }),
                newEvent({ tags: ['a_c'] }),
                newEvent({ tags: ['%'] }),
                newEvent({ tags: ['quote"d'] }),
              ]),
            ],
          }),
        );
        expect(await journal.readByTag('re')).toEqual([]);
        expect(await journal.readByTag('red')).toHaveLength(3);
        expect(await journal.readByTag('a_c')).toEqual([nth(odd, 2)]);
        expect(await journal.readByTag('%')).toEqual([nth(odd, 3)]);
        expect(await journal.readByTag('quote"d')).toEqual([nth(odd, 4)]);
      });
    });

    describe('readLatest', () => {
      it('returns the newest events first, pages backwards below a position, and refuses bad arguments', async () => {
        const written: RecordedEvent[] = [];
        written.push(...eventsOf(await journal.append({ writes: [write('latest-1', 0, 3)] })));
        written.push(...eventsOf(await journal.append({ writes: [write('latest-2', 0, 2)] })));
        await journal.deleteStream('latest-1');
        const ids = (events: readonly RecordedEvent[]): string[] => events.map((event) => event.eventId);
        const newestFirst = [...written].reverse();
        // Deleted events stay in the feed, so they stay here too.
        expect(ids(await journal.readLatest({ limit: 10 }))).toEqual(ids(newestFirst));
        const firstPage = await journal.readLatest({ limit: 2 });
        expect(ids(firstPage)).toEqual(ids(newestFirst.slice(0, 2)));
        expect(firstPage[0]).toMatchObject({ streamId: 'latest-2', version: 2, type: 'thing.happened', payload: nth(written, 4).payload });
        const secondPage = await journal.readLatest({ limit: 2, beforePosition: nth(firstPage, 1).position });
        expect(ids(secondPage)).toEqual(ids(newestFirst.slice(2, 4)));
        expect(await journal.readLatest({ limit: 10, beforePosition: nth(written, 0).position })).toEqual([]);
        expect(await journal.readLatest({ limit: 0 })).toEqual([]);
        for (const bad of BAD_INTEGERS) {
          expectInvalidArgument(await failureOf(journal.readLatest({ limit: bad as number })), 'limit', bad);
          expectInvalidArgument(await failureOf(journal.readLatest({ limit: 1, beforePosition: bad as number })), 'beforePosition', bad);
        }
      });
    });

    describe('listStreams', () => {
      beforeEach(async () => {
        for (const [streamId, aggregateType] of [
          ['user-1', 'user'],
          ['acct-2', 'account'],
          ['acct-1', 'account'],
          ['acct-3', 'account'],
          ['user-2', 'user'],
        ] as const) {
          await journal.append({ writes: [write(streamId, 0, 1, aggregateType)] });
        }
      });

      it('lists every stream id, sorted', async () => {
        expect(await journal.listStreams()).toEqual(['acct-1', 'acct-2', 'acct-3', 'user-1', 'user-2']);
      });

      it('filters by aggregate type', async () => {
        expect(await journal.listStreams({ aggregateType: 'account' })).toEqual(['acct-1', 'acct-2', 'acct-3']);
        expect(await journal.listStreams({ aggregateType: 'user' })).toEqual(['user-1', 'user-2']);
        expect(await journal.listStreams({ aggregateType: 'nothing' })).toEqual([]);
      });

      it('pages by keyset with after and limit', async () => {
        expect(await journal.listStreams({ limit: 2 })).toEqual(['acct-1', 'acct-2']);
        expect(await journal.listStreams({ after: 'acct-2', limit: 2 })).toEqual(['acct-3', 'user-1']);
        expect(await journal.listStreams({ after: 'acct-25' })).toEqual(['acct-3', 'user-1', 'user-2']);
        expect(await journal.listStreams({ after: 'user-2' })).toEqual([]);
        expect(await journal.listStreams({ after: 'acct-1', aggregateType: 'user' })).toEqual(['user-1', 'user-2']);
        expect(await journal.listStreams({ after: 'acct-2', aggregateType: 'account', limit: 5 })).toEqual(['acct-3']);

        const paged: string[] = [];
        let after: string | undefined;
        for (let guard = 0; guard < 10; guard++) {
          const page = await journal.listStreams({ after, limit: 2 });
          if (page.length === 0) break;
          paged.push(...page);
          after = page[page.length - 1];
        }
        expect(paged).toEqual(['acct-1', 'acct-2', 'acct-3', 'user-1', 'user-2']);
      });

      it('sorts by code point, not by locale', async () => {
        for (const streamId of ['b', 'B', 'a', 'A', '_', '~', 'é', 'Z']) {
          await journal.append({ writes: [write(streamId, 0, 1, 'letter')] });
        }
        expect(await journal.listStreams({ aggregateType: 'letter' })).toEqual(['A', 'B', 'Z', '_', 'a', 'b', '~', 'é']);
        expect(await journal.listStreams({ aggregateType: 'letter', after: 'Z', limit: 2 })).toEqual(['_', 'a']);
      });
    });

    describe('participants', () => {
      it('calls each participant once per append, inside the unit, with the request and the result', async () => {
        const calls: { tx: unknown; request: AppendRequest; result: AppendResult }[] = [];
        journal.addParticipant({
          participate: async (tx, request, result) => {
            calls.push({ tx, request, result });
          },
        });

        const request: AppendRequest = { writes: [write('joined-1', 0, 2)], commands: [commandRecord()] };
        const result = await journal.append(request);
        expect(calls).toHaveLength(1);
        expect(nth(calls, 0).tx).toBeDefined();
        expect(nth(calls, 0).request).toEqual(request);
        expect(nth(calls, 0).result).toEqual(result);

        await journal.append({ writes: [], commands: [commandRecord()] });
        expect(calls).toHaveLength(2);
        expect(nth(calls, 1).result).toEqual({ streams: [] });

        await failureOf(journal.append({ writes: [write('joined-1', 0, 1)] }));
        expect(calls).toHaveLength(2);
      });

      it('rolls the whole unit back when a participant throws, and passes its error on', async () => {
        await journal.append({ writes: [write('rollback-1', 0, 1)] });
        let fail = true;
        const failure = new Error('participant failed');
        journal.addParticipant({
          participate: async () => {
            if (fail) throw failure;
          },
        });

        const record = commandRecord();
        const request: AppendRequest = {
          writes: [write('rollback-1', 1, 2), write('rollback-2', 0, 1)],
          commands: [record],
        };
        expect(await failureOf(journal.append(request))).toBe(failure);
        expect(versionsOf(await journal.readStream('rollback-1'))).toEqual([1]);
        expect(await journal.streamVersion('rollback-1')).toBe(1);
        expect(await journal.readStream('rollback-2')).toEqual([]);
        expect(await journal.streamInfo('rollback-2')).toBeUndefined();
        expect(await journal.findCommand(record.commandId)).toBeUndefined();
        expect(await readWholeFeed(journal)).toHaveLength(1);

        fail = false;
        const result = await journal.append(request);
        expect(nth(result.streams, 0)).toMatchObject({ fromVersion: 2, toVersion: 3 });
        expect(await journal.findCommand(record.commandId)).toEqual(record);
      });
    });

    describe('integer arguments', () => {
      const streamId = 'wide-1';
      let written: RecordedEvent[];

      beforeEach(async () => {
        written = eventsOf(await journal.append({ writes: [write(streamId, 0, [newEvent({ tags: ['wide'] }), newEvent(), newEvent()])] }));
      });

      itEach(LARGE_INTEGERS)('deletes everything with upToVersion %d, and the next append continues the numbering', async (upTo) => {
        await journal.deleteStream(streamId, upTo);
        expect(await journal.readStream(streamId)).toEqual([]);
        expect(await journal.streamInfo(streamId)).toMatchObject({ version: 3, deletedUpTo: 3 });
        await journal.append({ writes: [write(streamId, 3, 1)] });
        expect(versionsOf(await journal.readStream(streamId))).toEqual([4]);
      });

      itEach(LARGE_INTEGERS)('reads a stream with %d as a bound or a limit: past the end, or no bound at all', async (large) => {
        expect(await journal.readStream(streamId, { toVersion: large })).toEqual(written);
        expect(await journal.readStream(streamId, { fromVersion: 2, toVersion: large, limit: large })).toEqual(written.slice(1));
        expect(await journal.readStream(streamId, { fromVersion: large })).toEqual([]);
        expect(await journal.readStream(streamId, { fromVersion: large, toVersion: large })).toEqual([]);
        expect(await journal.readStream('never-written', { fromVersion: large, toVersion: large })).toEqual([]);
      });

      itEach(LARGE_INTEGERS)('reads the feed, tags and stream list with %d as a position or a limit', async (large) => {
        expect((await journal.readAll(null, large)).events).toEqual(written);
        expect(await journal.readByTag('wide', { limit: large })).toEqual(written.slice(0, 1));
        expect(await journal.readByTag('wide', { afterPosition: large })).toEqual([]);
        expect(await journal.listStreams({ limit: large })).toEqual([streamId]);
      });

      itEach(LARGE_INTEGERS)('treats an expected version of %d as a conflict, naming both versions, and writes nothing', async (large) => {
        const record = commandRecord();
        const error = await failureOf(journal.append({ writes: [write(streamId, large, 1)], commands: [record] }));
        expectConcurrencyError(error, streamId, large, 3);
        const created = await failureOf(journal.append({ writes: [write('wide-new', large, 2)] }));
        expectConcurrencyError(created, 'wide-new', large, 0);
        expect(await journal.streamInfo('wide-new')).toBeUndefined();
        expect(await journal.findCommand(record.commandId)).toBeUndefined();
        expect(await readWholeFeed(journal)).toEqual(written);
      });

      itEach(BAD_INTEGERS)('refuses %p as a version, position or limit with InvalidArgumentError naming it', async (bad) => {
        const refusals: Array<[string, Promise<unknown>]> = [
          ['fromVersion', journal.readStream(streamId, { fromVersion: bad })],
          ['toVersion', journal.readStream(streamId, { toVersion: bad })],
          ['limit', journal.readStream(streamId, { limit: bad })],
          ['upToVersion', journal.deleteStream(streamId, bad)],
          ['limit', journal.listStreams({ limit: bad })],
          ['limit', journal.readAll(null, bad)],
          ['afterPosition', journal.readByTag('wide', { afterPosition: bad })],
          ['limit', journal.readByTag('wide', { limit: bad })],
        ];
        for (const [argument, call] of refusals) expectInvalidArgument(await failureOf(call), argument, bad);
        expect(await journal.streamInfo(streamId)).toMatchObject({ version: 3, deletedUpTo: 0 });
      });

      itEach(BAD_INTEGERS)('refuses %p as an expected version and writes nothing, not even the other writes of the unit', async (bad) => {
        const record = commandRecord();
        const error = await failureOf(
          journal.append({ writes: [write('wide-0', 0, 1), write(streamId, bad, 1)], commands: [record] }),
        );
        expectInvalidArgument(error, 'writes[1].expectedVersion', bad);
        expect(await journal.streamInfo('wide-0')).toBeUndefined();
        expect(await journal.findCommand(record.commandId)).toBeUndefined();
        expect(await readWholeFeed(journal)).toEqual(written);
      });
    });

    describe('feedBlocker', () => {
      it('resolves to undefined when nothing is in flight', async () => {
        expect(await journal.feedBlocker()).toBeUndefined();
        await journal.append({ writes: [write('blocker-1', 0, 2)] });
        expect(await journal.feedBlocker()).toBeUndefined();
      });
    });
  });
}
