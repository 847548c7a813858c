import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, itEach } from './contract-runner.js';
import { useContractRunner, type ContractRunner } from './contract-runner.js';
import {
  ChronicleError,
  ConcurrencyError,
  ConfigurationError,
  type AppendResult,
  type ClaimOptions,
  type EventMetadata,
  type Journal,
  type NewEvent,
  type OutboxEntry,
  type OutboxStore,
  type OutboxSubscription,
  type RecordedEvent,
} from '@chronicle/core';
import { failureOf } from './failure-of.js';
import { BAD_INTEGERS, expectInvalidArgument, LARGE_INTEGERS } from './integer-arguments.js';

/** What an `OutboxStore` implementation hands the contract suite for one test. */
export interface OutboxStoreContractHarness {
  /** A journal over a fresh, empty store whose unit of work includes `store` (added with `journal.addParticipant(store)`). */
  journal: Journal;
  /** The outbox store under test. */
  store: OutboxStore;
  /** Another store + journal over the same database, as a second process would open them (omit for in-memory). */
  openSecond?: () => Promise<{ journal: Journal; store: OutboxStore }>;
  /**
   * The highest version the store's columns hold (PostgreSQL: 2^31 - 1, an int4 column); a
   * backfilled event past it is refused with `InvalidArgumentError`. @default Number.MAX_SAFE_INTEGER
   */
  maxStoredVersion?: number;
  /**
   * Moves the store's notion of "now" forward (for lease expiry and backoff), e.g. a controllable
   * Clock. The stores' clock must stand still otherwise: the suite compares times exactly.
   */
  advanceTime(ms: number): Promise<void>;
  /** Closes everything opened (including what openSecond opened). */
  close(): Promise<void>;
}

const LEASE_MS = 30_000;
const RACE_TIMEOUT_MS = 60_000;
const OCCURRED_AT = new Date(Date.UTC(2024, 1, 29, 13, 45, 30, 123));
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const claimOptions = (limit = 100, leaseMs = LEASE_MS): ClaimOptions => ({ limit, leaseMs });

function newEvent(type = 'thing.happened', overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    schemaVersion: 1,
    payload: { type },
    metadata: {},
    tags: [],
    occurredAt: new Date(OCCURRED_AT),
    ...overrides,
  };
}

function nth<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`expected an item at index ${index}, found ${items.length} items`);
  return item;
}

function eventsOf(result: AppendResult): RecordedEvent[] {
  return result.streams.flatMap((stream) => stream.events);
}

/** `stream@version` of each entry: compact, exact, and readable in a failure. */
function keysOf(entries: readonly OutboxEntry[]): string[] {
  return entries.map((entry) => `${entry.streamId}@${entry.version}`);
}

function idsOf(entries: readonly OutboxEntry[]): string[] {
  return entries.map((entry) => entry.id);
}

/** The order every store sorts stream ids in: code points (UTF-8 bytes), never a locale. */
function byCodePoint(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

function byAggregateThenVersion(left: OutboxEntry, right: OutboxEntry): number {
  return byCodePoint(left.streamId, right.streamId) || left.version - right.version;
}

/** Per stream, the versions in the order given. */
function versionsByStream(entries: readonly OutboxEntry[]): Map<string, number[]> {
  const byStream = new Map<string, number[]>();
  for (const entry of entries) byStream.set(entry.streamId, [...(byStream.get(entry.streamId) ?? []), entry.version]);
  return byStream;
}

/** The time a claim was made at, from the lease it granted (the clock stands still between calls). */
function claimedAt(entry: OutboxEntry, leaseMs = LEASE_MS): number {
  if (entry.leaseUntil === undefined) throw new Error(`entry ${entry.id} carries no lease`);
  return entry.leaseUntil.getTime() - leaseMs;
}

/**
 * The contract every `OutboxStore` implementation must pass: one `describe` named
 * `OutboxStore contract: <implementation>`, with a fresh harness (an empty store) per test.
 *
 * Rules it pins down beyond the port's text: a claim never returns an entry under an unexpired
 * lease, whoever holds it (so one owner running two claims cannot deliver an entry twice); a
 * lease is held while it has not expired, so an owner whose lease ran out can change nothing
 * even before another owner claimed the entry; `markFailed`, `deadLetter` and `release` give the
 * lease up; `deadLetter` counts the failed attempt like `markFailed`; `subscribe` adds to the
 * store's handlers and keeps a known handler's first registration.
 *
 * The tests are declared with `runner` (Jest's or Vitest's functions), or with the runner's
 * globals when it is omitted.
 */
export function outboxStoreContract(implementation: string, open: () => Promise<OutboxStoreContractHarness>, runner?: ContractRunner): void {
  useContractRunner(runner);
  describe(`OutboxStore contract: ${implementation}`, () => {
    let harness: OutboxStoreContractHarness;
    let journal: Journal;
    let store: OutboxStore;

    beforeEach(async () => {
      harness = await open();
      journal = harness.journal;
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close();
    });

    const everything = (handler = 'relay', startFrom: OutboxSubscription['startFrom'] = 'now'): OutboxSubscription => ({
      handler,
      events: '*',
      startFrom,
    });

    /** Appends events of the given types to a stream (aggregate type `thing` unless named) and returns them. */
    async function append(
      streamId: string,
      types: readonly string[] | number,
      options: { aggregateType?: string; on?: Journal; overrides?: Partial<NewEvent> } = {},
    ): Promise<RecordedEvent[]> {
      const target = options.on ?? journal;
      const events = (typeof types === 'number' ? Array.from({ length: types }, () => 'thing.happened') : types).map((type) =>
        newEvent(type, options.overrides),
      );
      const expectedVersion = await target.streamVersion(streamId);
      return eventsOf(
        await target.append({ writes: [{ streamId, aggregateType: options.aggregateType ?? 'thing', expectedVersion, events }] }),
      );
    }

    describe('participate', () => {
      it('writes one entry per appended event per subscribed handler, with every field', async () => {
        await store.subscribe([everything('all'), { handler: 'placed-only', events: ['order.placed'], startFrom: 'now' }]);
        const metadata: EventMetadata = { commandId: 'cmd-1', correlationId: 'corr-1', causationId: 'cause-1', custom: { n: [1, 'x'] } };
        const placed = newEvent('order.placed', {
          schemaVersion: 3,
          payload: { total: 12.5, lines: [{ sku: 'a"b', qty: 2 }], note: 'ünï' },
          metadata,
          occurredAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10)),
        });
        const shipped = newEvent('order.shipped', { payload: {} });
        const [first, second] = eventsOf(
          await journal.append({ writes: [{ streamId: 'order-42', aggregateType: 'order', expectedVersion: 0, events: [placed, shipped] }] }),
        );

        const entries = await store.claim('all', 'relay-1', claimOptions());
        expect(keysOf(entries)).toEqual(['order-42@1', 'order-42@2']);
        const [placedEntry, shippedEntry] = entries;
        expect(placedEntry).toEqual({
          id: expect.stringMatching(UUID_V7),
          handler: 'all',
          aggregateType: 'order',
          aggregateId: '42',
          streamId: 'order-42',
          version: 1,
          eventId: first?.eventId,
          eventType: 'order.placed',
          schemaVersion: 3,
          payload: { total: 12.5, lines: [{ sku: 'a"b', qty: 2 }], note: 'ünï' },
          metadata,
          occurredAt: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10)),
          attempts: 0,
          nextAttemptAt: expect.any(Date),
          leaseOwner: 'relay-1',
          leaseUntil: expect.any(Date),
        });
        expect(shippedEntry).toMatchObject({ version: 2, eventId: second?.eventId, eventType: 'order.shipped', payload: {}, metadata: {} });
        for (const entry of entries) {
          // Written at the store's "now", which is also when it was claimed: due at once.
          expect(entry.leaseUntil?.getTime()).toBe((entry.nextAttemptAt.getTime()) + LEASE_MS);
          expect(entry.lastError).toBeUndefined();
          expect(entry.publishedAt).toBeUndefined();
          expect(entry.deadLetteredAt).toBeUndefined();
        }

        const placedOnly = await store.claim('placed-only', 'relay-1', claimOptions());
        expect(keysOf(placedOnly)).toEqual(['order-42@1']);
        expect(nth(placedOnly, 0)).toMatchObject({ handler: 'placed-only', eventId: first?.eventId });
        expect(nth(placedOnly, 0).id).not.toBe(placedEntry?.id);
      });

      it('gives entries time-sortable ids that grow with each append', async () => {
        await store.subscribe([everything()]);
        await append('sorted-1', 2);
        await append('sorted-2', 1);
        await append('sorted-1', 1);
        const entries = await store.claim('relay', 'relay-1', claimOptions());
        expect(keysOf(entries)).toEqual(['sorted-1@1', 'sorted-1@2', 'sorted-1@3', 'sorted-2@1']);
        const inAppendOrder = [nth(entries, 0), nth(entries, 1), nth(entries, 3), nth(entries, 2)].map((entry) => entry.id);
        expect(inAppendOrder.every((id) => UUID_V7.test(id))).toBe(true);
        expect([...inAppendOrder].sort()).toEqual(inAppendOrder);
        expect(new Set(inAppendOrder).size).toBe(4);
      });

      it('covers every stream of a unit, each with its own aggregate id', async () => {
        await store.subscribe([everything()]);
        await journal.append({
          writes: [
            { streamId: 'invoice-a-b', aggregateType: 'invoice', expectedVersion: 0, events: [newEvent(), newEvent()] },
            { streamId: 'legacy42', aggregateType: 'invoice', expectedVersion: 0, events: [newEvent()] },
          ],
        });
        const entries = await store.claim('relay', 'relay-1', claimOptions());
        expect(entries.map(({ streamId, version, aggregateType, aggregateId }) => ({ streamId, version, aggregateType, aggregateId }))).toEqual([
          { streamId: 'invoice-a-b', version: 1, aggregateType: 'invoice', aggregateId: 'a-b' },
          { streamId: 'invoice-a-b', version: 2, aggregateType: 'invoice', aggregateId: 'a-b' },
          { streamId: 'legacy42', version: 1, aggregateType: 'invoice', aggregateId: 'legacy42' },
        ]);
      });

      it('leaves no entry when the append fails with ConcurrencyError', async () => {
        await store.subscribe([everything()]);
        await append('occ-1', 1);
        const error = await failureOf(
          journal.append({ writes: [{ streamId: 'occ-1', aggregateType: 'thing', expectedVersion: 0, events: [newEvent(), newEvent()] }] }),
        );
        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(keysOf(await store.claim('relay', 'relay-1', claimOptions()))).toEqual(['occ-1@1']);
        expect(await store.stats('relay')).toEqual([{ handler: 'relay', pending: 1, oldestPendingAt: OCCURRED_AT, leased: 1, deadLettered: 0 }]);
      });

      it('leaves no entry when a later participant rolls the unit back', async () => {
        await store.subscribe([everything()]);
        let refuse = true;
        journal.addParticipant({
          participate: async () => {
            if (refuse) throw new Error('refused by a later participant');
          },
        });
        await expect(append('rolled-back', 2)).rejects.toThrow('refused by a later participant');
        expect(await store.claim('relay', 'relay-1', claimOptions())).toEqual([]);
        expect(await store.stats('relay')).toEqual([{ handler: 'relay', pending: 0, leased: 0, deadLettered: 0 }]);

        refuse = false;
        await append('rolled-back', 1);
        expect(keysOf(await store.claim('relay', 'relay-1', claimOptions()))).toEqual(['rolled-back@1']);
      });

      it('writes nothing for handlers not subscribed, nor for event types a handler does not list', async () => {
        await store.subscribe([everything('all'), { handler: 'alpha-only', events: ['alpha', 'gamma'], startFrom: 'now' }]);
        await append('mixed-1', ['alpha', 'beta', 'gamma', 'beta']);
        expect(keysOf(await store.claim('all', 'relay-1', claimOptions()))).toEqual(['mixed-1@1', 'mixed-1@2', 'mixed-1@3', 'mixed-1@4']);
        const alphaOnly = await store.claim('alpha-only', 'relay-1', claimOptions());
        expect(alphaOnly.map((entry) => [entry.version, entry.eventType])).toEqual([
          [1, 'alpha'],
          [3, 'gamma'],
        ]);
        expect(await store.claim('never-subscribed', 'relay-1', claimOptions())).toEqual([]);
        expect(await store.stats('never-subscribed')).toEqual([]);
        expect((await store.stats()).map((stats) => [stats.handler, stats.pending])).toEqual([
          ['all', 4],
          ['alpha-only', 2],
        ]);
      });

      it('gives a handler registered later with startFrom "now" only the events appended after', async () => {
        await store.subscribe([everything('early')]);
        await append('timeline', 2);
        await store.subscribe([everything('late')]);
        await append('timeline', 1);
        expect(keysOf(await store.claim('late', 'relay-1', claimOptions()))).toEqual(['timeline@3']);
        expect(keysOf(await store.claim('early', 'relay-1', claimOptions()))).toEqual(['timeline@1', 'timeline@2', 'timeline@3']);
      });

      it('keeps the first registration of a handler subscribed again', async () => {
        await store.subscribe([everything('kept', 'now')]);
        const first = await store.handlerState('kept');
        await harness.advanceTime(5_000);
        await store.subscribe([{ handler: 'kept', events: ['only.this'], startFrom: 'beginning' }]);
        expect(await store.handlerState('kept')).toEqual(first);
        // The new event list applies from now on.
        await append('resubscribed', ['other', 'only.this']);
        expect(keysOf(await store.claim('kept', 'relay-1', claimOptions()))).toEqual(['resubscribed@2']);
      });
    });

    describe('handler state and backfill', () => {
      it('makes "now" handlers ready at registration and leaves "beginning" handlers waiting', async () => {
        await store.subscribe([everything('live', 'now'), everything('replay', 'beginning')]);
        const live = await store.handlerState('live');
        expect(live).toEqual({
          handler: 'live',
          startFrom: 'now',
          backfillCursor: null,
          readyAt: expect.any(Date),
          registeredAt: expect.any(Date),
        });
        expect(live?.readyAt?.getTime()).toBe(live?.registeredAt.getTime());
        const replay = await store.handlerState('replay');
        expect(replay).toEqual({ handler: 'replay', startFrom: 'beginning', backfillCursor: null, registeredAt: expect.any(Date) });
        expect(replay?.readyAt).toBeUndefined();
        expect(await store.handlerState('unknown')).toBeUndefined();
      });

      it('refuses a malformed subscription with ConfigurationError, registering none of the batch', async () => {
        for (const bad of [
          { handler: '', events: '*', startFrom: 'now' },
          { handler: 'bad-events', events: 'all', startFrom: 'now' },
          { handler: 'bad-start', events: '*', startFrom: 'yesterday' },
          everything('fine'),
        ]) {
          const error = await failureOf(store.subscribe([everything('fine'), bad as unknown as OutboxSubscription]));
          expect(error).toBeInstanceOf(ConfigurationError);
        }
        expect(await store.handlerState('fine')).toBeUndefined();
        expect(await store.stats()).toEqual([]);
      });

      it('backfills idempotently by event id, records the cursor, and relays only once done', async () => {
        const past = [...(await append('history', 3)), ...(await append('other-history', 1))];
        await store.subscribe([everything('replay', 'beginning')]);
        const live = await append('history', 1);
        // Not ready: even the live entry waits, so the backfill can still slot in before it.
        expect(await store.claim('replay', 'relay-1', claimOptions())).toEqual([]);

        expect(await store.backfill('replay', [nth(past, 0), nth(past, 1)], 'cursor-2', false)).toBe(2);
        expect(await store.handlerState('replay')).toMatchObject({ backfillCursor: 'cursor-2' });
        expect((await store.handlerState('replay'))?.readyAt).toBeUndefined();
        expect(await store.claim('replay', 'relay-1', claimOptions())).toEqual([]);

        await harness.advanceTime(1_000);
        // Already enqueued (event 2 by the first page, event 4 by the live append) are skipped.
        expect(await store.backfill('replay', [nth(past, 1), nth(past, 2), nth(past, 3), nth(live, 0)], 'cursor-5', true)).toBe(2);
        const state = await store.handlerState('replay');
        expect(state).toMatchObject({ handler: 'replay', startFrom: 'beginning', backfillCursor: 'cursor-5', readyAt: expect.any(Date) });
        expect(state?.readyAt?.getTime()).toBe((state?.registeredAt.getTime() ?? 0) + 1_000);

        const entries = await store.claim('replay', 'relay-1', claimOptions());
        expect(keysOf(entries)).toEqual(['history@1', 'history@2', 'history@3', 'history@4', 'other-history@1']);
        expect(entries.map((entry) => entry.eventId)).toEqual([...past.slice(0, 3), nth(live, 0), nth(past, 3)].map((event) => event.eventId));
        expect(await store.backfill('replay', past, 'cursor-5', true)).toBe(0);
      });

      it('backfills only the event types the handler receives', async () => {
        const past = await append('typed', ['wanted', 'unwanted', 'wanted']);
        await store.subscribe([{ handler: 'picky', events: ['wanted'], startFrom: 'beginning' }]);
        expect(await store.backfill('picky', past, null, true)).toBe(2);
        expect(keysOf(await store.claim('picky', 'relay-1', claimOptions()))).toEqual(['typed@1', 'typed@3']);
      });

      it('refuses to backfill a handler this store has not subscribed, changing nothing', async () => {
        const past = await append('history', 1);
        const error = await failureOf(store.backfill('unknown', past, 'c', true));
        expect(error).toBeInstanceOf(ConfigurationError);
        expect((error as Error).message).toContain('"unknown"');
        expect(await store.handlerState('unknown')).toBeUndefined();
      });
    });

    describe('claim', () => {
      it('returns the head of each aggregate and the unbroken run after it, sorted by aggregate then version', async () => {
        await store.subscribe([everything()]);
        await append('b-stream', 1);
        await append('a-stream', 1);
        await append('c-stream', 1);
        await append('b-stream', 2);
        await append('a-stream', 1);
        const entries = await store.claim('relay', 'relay-1', claimOptions());
        expect(keysOf(entries)).toEqual(['a-stream@1', 'a-stream@2', 'b-stream@1', 'b-stream@2', 'b-stream@3', 'c-stream@1']);
        expect(entries.every((entry) => entry.leaseOwner === 'relay-1')).toBe(true);
      });

      it('hands out records the caller owns: changing a claimed entry changes nothing stored', async () => {
        await store.subscribe([everything()]);
        await append('owned', 1);
        const [claimed] = await store.claim('relay', 'owner-1', claimOptions());
        const original = structuredClone(claimed);
        // What the relay does when it decodes an entry in place, and worse.
        Object.assign(claimed!, { payload: { replaced: true }, eventType: 'changed', attempts: 99, event: {} });
        (claimed!.metadata as Record<string, unknown>).changed = true;
        expect(await store.release('relay', 'owner-1')).toBe(1);
        const [again] = await store.claim('relay', 'owner-2', claimOptions());
        expect({ ...again, leaseOwner: undefined, leaseUntil: undefined }).toEqual({ ...original, leaseOwner: undefined, leaseUntil: undefined });
      });

      it('returns at most limit entries, each aggregate a run starting at its head', async () => {
        await store.subscribe([everything()]);
        await append('solo', 5);
        expect(keysOf(await store.claim('relay', 'relay-1', claimOptions(3)))).toEqual(['solo@1', 'solo@2', 'solo@3']);
        // The rest waits behind the leased head, for every owner.
        expect(await store.claim('relay', 'relay-2', claimOptions())).toEqual([]);
        expect(await store.claim('relay', 'relay-1', claimOptions())).toEqual([]);

        for (const streamId of ['x', 'y', 'z']) await append(streamId, 3);
        const some = await store.claim('relay', 'relay-3', claimOptions(4));
        expect(some).toHaveLength(4);
        expect([...some].sort(byAggregateThenVersion)).toEqual(some);
        for (const versions of versionsByStream(some).values()) expect(versions).toEqual(versions.map((_, index) => index + 1));
        expect(await store.claim('relay', 'relay-3', claimOptions(1))).toHaveLength(Math.min(1, 3 - versionsByStream(some).size));
      });

      it('blocks an aggregate whose head is leased, but not the other aggregates', async () => {
        await store.subscribe([everything()]);
        await append('left', 2);
        await append('right', 2);
        const first = await store.claim('relay', 'relay-1', claimOptions(1));
        expect(first).toHaveLength(1);
        const [taken] = first;
        const other = taken?.streamId === 'left' ? 'right' : 'left';
        expect(taken?.version).toBe(1);
        const second = await store.claim('relay', 'relay-2', claimOptions());
        expect(keysOf(second)).toEqual([`${other}@1`, `${other}@2`]);
        expect(await store.claim('relay', 'relay-1', claimOptions())).toEqual([]);
        expect(await store.claim('relay', 'relay-3', claimOptions())).toEqual([]);
      });

      it('holds entries appended after a claim behind the leased run until it is published', async () => {
        await store.subscribe([everything()]);
        await append('queue', 2);
        const claimed = await store.claim('relay', 'relay-1', claimOptions());
        await append('queue', 1);
        expect(await store.claim('relay', 'relay-2', claimOptions())).toEqual([]);
        expect(await store.markPublished('relay', 'relay-1', idsOf(claimed))).toBe(2);
        expect(keysOf(await store.claim('relay', 'relay-2', claimOptions()))).toEqual(['queue@3']);
        expect(await store.claim('relay', 'relay-1', claimOptions())).toEqual([]);
      });

      it('cuts a run at its first entry that is leased, backing off or parked', async () => {
        await store.subscribe([everything()]);
        await append('leased-tail', 3);
        await append('failed-tail', 3);
        await append('parked-tail', 3);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        const entry = (key: string): OutboxEntry => {
          const found = claimed.find((candidate) => `${candidate.streamId}@${candidate.version}` === key);
          if (found === undefined) throw new Error(`${key} was not claimed`);
          return found;
        };
        const later = new Date(claimedAt(nth(claimed, 0)) + 60_000);
        expect(await store.markFailed('relay', 'owner-1', entry('failed-tail@2').id, 'later', later)).toBe(true);
        expect(await store.deadLetter('relay', 'owner-1', entry('parked-tail@2').id, 'parked')).toBe(true);
        // Everything else goes back, except the tail of `leased-tail`, which owner-1 keeps.
        const back = ['leased-tail@1', 'failed-tail@1', 'failed-tail@3', 'parked-tail@1', 'parked-tail@3'].map((key) => entry(key).id);
        expect(await store.release('relay', 'owner-1', back)).toBe(5);
        expect(keysOf(await store.claim('relay', 'owner-2', claimOptions()))).toEqual(['failed-tail@1', 'leased-tail@1', 'parked-tail@1']);
      });

      it('never returns published entries again', async () => {
        await store.subscribe([everything()]);
        await append('done', 2);
        const claimed = await store.claim('relay', 'relay-1', claimOptions());
        expect(await store.markPublished('relay', 'relay-1', idsOf(claimed))).toBe(2);
        expect(await store.markPublished('relay', 'relay-1', idsOf(claimed))).toBe(0);
        await harness.advanceTime(LEASE_MS * 10);
        expect(await store.claim('relay', 'relay-2', claimOptions())).toEqual([]);
        expect(await store.stats('relay')).toEqual([{ handler: 'relay', pending: 0, leased: 0, deadLettered: 0 }]);
      });

      it('refuses a limit or lease that is not a positive integer, naming it', async () => {
        await store.subscribe([everything()]);
        await append('input', 1);
        for (const [options, name] of [
          [{ limit: 0, leaseMs: LEASE_MS }, 'limit'],
          [{ limit: 1.5, leaseMs: LEASE_MS }, 'limit'],
          [{ limit: -1, leaseMs: LEASE_MS }, 'limit'],
          [{ limit: 10, leaseMs: 0 }, 'leaseMs'],
          [{ limit: 10, leaseMs: Number.NaN }, 'leaseMs'],
        ] as const) {
          const error = await failureOf(store.claim('relay', 'relay-1', options));
          expect(error).toBeInstanceOf(ChronicleError);
          expect((error as Error).message).toContain(name);
        }
        const [entry] = await store.claim('relay', 'relay-1', claimOptions());
        expect(keysOf(entry === undefined ? [] : [entry])).toEqual(['input@1']);
        const badDate = await failureOf(store.markFailed('relay', 'relay-1', entry?.id ?? '', 'x', new Date(Number.NaN)));
        expect(badDate).toBeInstanceOf(ChronicleError);
        expect((badDate as Error).message).toContain('nextAttemptAt');
        const badCutoff = await failureOf(store.prunePublished(new Date('not a date')));
        expect((badCutoff as Error).message).toContain('before');
        // Nothing changed: the entry is still leased to relay-1 with no attempt counted.
        expect(await store.markPublished('relay', 'relay-1', [entry?.id ?? ''])).toBe(1);
      });
    });

    describe('concurrent claimers', () => {
      /**
       * Claimers take turns in rounds (each round's claims run at once), publish what they got,
       * and the suite checks that no entry went to two claimers, that each aggregate was held by
       * one claimer at a time, and that every aggregate was published in version order.
       */
      async function drainConcurrently(stores: readonly OutboxStore[], expected: number): Promise<void> {
        const claimedBy = new Map<string, string>();
        const published: OutboxEntry[] = [];
        for (let round = 0; published.length < expected && round < 200; round++) {
          const batches = await Promise.all(stores.map((claimer, index) => claimer.claim('relay', `claimer-${index}`, claimOptions(5))));
          const ownerOfStream = new Map<string, number>();
          batches.forEach((batch, index) => {
            for (const entry of batch) {
              expect(claimedBy.has(entry.id)).toBe(false);
              claimedBy.set(entry.id, `claimer-${index}`);
              expect(entry.leaseOwner).toBe(`claimer-${index}`);
              expect(ownerOfStream.get(entry.streamId) ?? index).toBe(index);
              ownerOfStream.set(entry.streamId, index);
            }
          });
          const counts = await Promise.all(
            batches.map((batch, index) => nth(stores, index).markPublished('relay', `claimer-${index}`, idsOf(batch))),
          );
          expect(counts).toEqual(batches.map((batch) => batch.length));
          for (const batch of batches) published.push(...batch);
        }
        expect(published).toHaveLength(expected);
        for (const versions of versionsByStream(published).values()) expect(versions).toEqual(versions.map((_, index) => index + 1));
        expect(await nth(stores, 0).stats('relay')).toEqual([{ handler: 'relay', pending: 0, leased: 0, deadLettered: 0 }]);
      }

      it(
        'never give one entry to two claimers, and give each aggregate to one claimer at a time (one store)',
        async () => {
          await store.subscribe([everything()]);
          for (let index = 0; index < 12; index++) await append(`agg-${String(index).padStart(2, '0')}`, 3);
          const firstRound = await Promise.all(['r1', 'r2', 'r3'].map((owner) => store.claim('relay', owner, claimOptions(5))));
          const ids = firstRound.flat().map((entry) => entry.id);
          expect(new Set(ids).size).toBe(ids.length);
          const owners = new Map<string, string>();
          for (const entry of firstRound.flat()) {
            expect(owners.get(entry.streamId) ?? entry.leaseOwner).toBe(entry.leaseOwner);
            owners.set(entry.streamId, entry.leaseOwner ?? '');
          }
          await Promise.all(['r1', 'r2', 'r3'].map((owner) => store.release('relay', owner)));
          await drainConcurrently([store, store, store], 36);
        },
        RACE_TIMEOUT_MS,
      );

      it(
        'never give one entry to two claimers across two stores over one database',
        async () => {
          if (!harness.openSecond) return;
          const second = await harness.openSecond();
          await store.subscribe([everything()]);
          await second.store.subscribe([everything()]);
          for (let index = 0; index < 10; index++) {
            await append(`shared-${String(index).padStart(2, '0')}`, 2, { on: index % 2 === 0 ? journal : second.journal });
          }
          await append('shared-00', 2, { on: second.journal });
          await drainConcurrently([store, second.store, store, second.store], 22);
        },
        RACE_TIMEOUT_MS,
      );
    });

    describe('fencing and leases', () => {
      it('lets only the lease owner change a claimed entry', async () => {
        await store.subscribe([everything(), everything('elsewhere')]);
        await append('fenced', 2);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        const ids = idsOf(claimed);
        const head = nth(ids, 0);
        const retryAt = new Date(nth(claimed, 0).nextAttemptAt.getTime() + 1_000);

        expect(await store.markPublished('relay', 'intruder', ids)).toBe(0);
        expect(await store.markFailed('relay', 'intruder', head, 'nope', retryAt)).toBe(false);
        expect(await store.deadLetter('relay', 'intruder', head, 'nope')).toBe(false);
        expect(await store.extendLease('relay', 'intruder', ids, LEASE_MS * 10)).toBe(0);
        expect(await store.release('relay', 'intruder', ids)).toBe(0);
        expect(await store.release('relay', 'intruder')).toBe(0);
        // The right owner naming the wrong handler, or ids that do not exist, changes nothing either.
        expect(await store.markPublished('elsewhere', 'owner-1', ids)).toBe(0);
        expect(await store.markPublished('relay', 'owner-1', [randomUUID(), 'not-an-entry-id'])).toBe(0);

        expect(await store.claim('relay', 'intruder', claimOptions())).toEqual([]);
        expect(await store.stats('relay')).toEqual([{ handler: 'relay', pending: 2, oldestPendingAt: OCCURRED_AT, leased: 2, deadLettered: 0 }]);
        expect(await store.deadLetters('relay')).toEqual([]);
        expect(await store.markPublished('relay', 'owner-1', ids)).toBe(2);
      });

      it('makes entries claimable again when the lease expires, and fences the old owner out', async () => {
        await store.subscribe([everything()]);
        await append('expiring', 2);
        const claimed = await store.claim('relay', 'owner-1', claimOptions(10, 1_000));
        const ids = idsOf(claimed);
        await harness.advanceTime(500);
        expect(await store.extendLease('relay', 'owner-1', ids, 1_000)).toBe(2);
        await harness.advanceTime(600);
        expect(await store.claim('relay', 'owner-2', claimOptions())).toEqual([]);
        await harness.advanceTime(400);
        // The extended lease ran out at exactly this moment: it is no longer held.
        expect(await store.extendLease('relay', 'owner-1', ids, 1_000)).toBe(0);
        expect(await store.markPublished('relay', 'owner-1', ids)).toBe(0);

        const reclaimed = await store.claim('relay', 'owner-2', claimOptions());
        expect(idsOf(reclaimed)).toEqual(ids);
        expect(reclaimed.map((entry) => [entry.leaseOwner, entry.attempts])).toEqual([
          ['owner-2', 0],
          ['owner-2', 0],
        ]);
        expect(claimedAt(nth(reclaimed, 0))).toBe(claimedAt(nth(claimed, 0), 1_000) + 1_500);
        expect(await store.markPublished('relay', 'owner-1', ids)).toBe(0);
        expect(await store.markFailed('relay', 'owner-1', nth(ids, 0), 'late', new Date())).toBe(false);
        expect(await store.markPublished('relay', 'owner-2', ids)).toBe(2);
      });

      it('gives entries back on release without counting an attempt', async () => {
        await store.subscribe([everything()]);
        await append('released', 3);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        expect(await store.release('relay', 'owner-1')).toBe(3);
        expect(await store.release('relay', 'owner-1')).toBe(0);
        const again = await store.claim('relay', 'owner-2', claimOptions());
        expect(idsOf(again)).toEqual(idsOf(claimed));
        expect(again.map((entry) => [entry.attempts, entry.leaseOwner, entry.lastError])).toEqual([
          [0, 'owner-2', undefined],
          [0, 'owner-2', undefined],
          [0, 'owner-2', undefined],
        ]);
      });

      it('hands out entries after a head only together with their head', async () => {
        await store.subscribe([everything()]);
        await append('partial', 3);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        expect(await store.release('relay', 'owner-1', [nth(claimed, 2).id])).toBe(1);
        expect(await store.claim('relay', 'owner-2', claimOptions())).toEqual([]);
        expect(await store.markPublished('relay', 'owner-1', [nth(claimed, 0).id, nth(claimed, 1).id])).toBe(2);
        expect(keysOf(await store.claim('relay', 'owner-2', claimOptions()))).toEqual(['partial@3']);
      });
    });

    describe('failures, dead letters and redrive', () => {
      it('counts a failure, records the error, and holds the entry and its aggregate back until nextAttemptAt', async () => {
        await store.subscribe([everything()]);
        await append('failing', 2);
        await append('healthy', 1);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        expect(keysOf(claimed)).toEqual(['failing@1', 'failing@2', 'healthy@1']);
        const [failing, behind, healthy] = claimed;
        const now = claimedAt(nth(claimed, 0));
        expect(await store.markFailed('relay', 'owner-1', failing?.id ?? '', 'broker said no', new Date(now + 5_000))).toBe(true);
        expect(await store.markFailed('relay', 'owner-1', failing?.id ?? '', 'twice', new Date(now + 5_000))).toBe(false);
        expect(await store.release('relay', 'owner-1', [behind?.id ?? ''])).toBe(1);
        expect(await store.markPublished('relay', 'owner-1', [healthy?.id ?? ''])).toBe(1);
        await append('healthy', 1);

        expect(keysOf(await store.claim('relay', 'owner-2', claimOptions()))).toEqual(['healthy@2']);
        await harness.advanceTime(4_999);
        expect(await store.claim('relay', 'owner-2', claimOptions())).toEqual([]);
        await harness.advanceTime(1);
        const retried = await store.claim('relay', 'owner-2', claimOptions());
        expect(keysOf(retried)).toEqual(['failing@1', 'failing@2']);
        expect(nth(retried, 0)).toMatchObject({
          id: failing?.id,
          attempts: 1,
          lastError: 'broker said no',
          nextAttemptAt: new Date(now + 5_000),
          leaseOwner: 'owner-2',
        });
        expect(nth(retried, 1)).toMatchObject({ id: behind?.id, attempts: 0 });
        expect(nth(retried, 1).lastError).toBeUndefined();
      });

      it('parks a dead letter: it holds back only the later entries of its aggregate and is listed', async () => {
        await store.subscribe([everything(), everything('other-handler')]);
        await append('poisoned', 3);
        await append('flowing', 1);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        expect(keysOf(claimed)).toEqual(['flowing@1', 'poisoned@1', 'poisoned@2', 'poisoned@3']);
        const [flowing, poison, second, third] = claimed;
        const now = claimedAt(nth(claimed, 0));
        await harness.advanceTime(250);
        expect(await store.deadLetter('relay', 'owner-1', poison?.id ?? '', 'cannot decode')).toBe(true);
        expect(await store.deadLetter('relay', 'owner-1', poison?.id ?? '', 'again')).toBe(false);
        expect(await store.release('relay', 'owner-1', [second?.id ?? '', third?.id ?? ''])).toBe(2);
        expect(await store.markPublished('relay', 'owner-1', [flowing?.id ?? ''])).toBe(1);
        await append('flowing', 1);

        expect(keysOf(await store.claim('relay', 'owner-2', claimOptions()))).toEqual(['flowing@2']);
        await harness.advanceTime(LEASE_MS * 100);
        // Long after every lease ran out, the parked aggregate still waits; the other one flows.
        expect(keysOf(await store.claim('relay', 'owner-3', claimOptions()))).toEqual(['flowing@2']);

        const parked = await store.deadLetters('relay');
        expect(parked).toEqual([
          {
            ...poison,
            attempts: 1,
            lastError: 'cannot decode',
            deadLetteredAt: new Date(now + 250),
            leaseOwner: undefined,
            leaseUntil: undefined,
          },
        ]);
        expect(nth(parked, 0).leaseOwner).toBeUndefined();
        expect(idsOf(await store.deadLetters())).toEqual([poison?.id]);
        expect(await store.deadLetters('other-handler')).toEqual([]);
        expect(await store.stats('relay')).toEqual([
          { handler: 'relay', pending: 3, oldestPendingAt: OCCURRED_AT, leased: 1, deadLettered: 1 },
        ]);
      });

      it('redrives a dead letter with attempts reset, and its aggregate proceeds in order', async () => {
        await store.subscribe([everything()]);
        await append('redriven', 3);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        const [poison, ...rest] = claimed;
        expect(await store.deadLetter('relay', 'owner-1', poison?.id ?? '', 'first try')).toBe(true);
        expect(await store.release('relay', 'owner-1', idsOf(rest))).toBe(2);
        expect(await store.claim('relay', 'owner-2', claimOptions())).toEqual([]);

        expect(await store.redrive('relay', [nth(rest, 0).id])).toBe(0);
        expect(await store.redrive('other-handler')).toBe(0);
        expect(await store.redrive('relay', [poison?.id ?? ''])).toBe(1);
        expect(await store.deadLetters('relay')).toEqual([]);
        expect(await store.redrive('relay')).toBe(0);

        const again = await store.claim('relay', 'owner-2', claimOptions());
        expect(keysOf(again)).toEqual(['redriven@1', 'redriven@2', 'redriven@3']);
        expect(nth(again, 0)).toMatchObject({ id: poison?.id, attempts: 0, leaseOwner: 'owner-2' });
        expect(nth(again, 0).deadLetteredAt).toBeUndefined();
        expect(await store.markPublished('relay', 'owner-2', idsOf(again))).toBe(3);
      });

      it('redrives every dead letter of a handler when no ids are given', async () => {
        await store.subscribe([everything()]);
        await append('dl-a', 1);
        await append('dl-b', 1);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        for (const entry of claimed) expect(await store.deadLetter('relay', 'owner-1', entry.id, `bad ${entry.streamId}`)).toBe(true);
        expect((await store.deadLetters('relay')).map((entry) => entry.lastError).sort()).toEqual(['bad dl-a', 'bad dl-b']);
        expect(await store.deadLetters('relay', 1)).toHaveLength(1);
        expect(await store.redrive('relay')).toBe(2);
        expect(keysOf(await store.claim('relay', 'owner-2', claimOptions()))).toEqual(['dl-a@1', 'dl-b@1']);
      });
    });

    describe('stats and pruning', () => {
      it('reports pending, oldest pending, leased and dead-lettered per handler', async () => {
        await store.subscribe([everything('h-b'), { handler: 'h-a', events: ['counted'], startFrom: 'now' }]);
        const oldest = new Date(Date.UTC(2023, 0, 1));
        await append('s1', ['counted'], { overrides: { occurredAt: new Date(Date.UTC(2023, 5, 1)) } });
        await append('s2', ['counted'], { overrides: { occurredAt: oldest } });
        await append('s3', ['ignored', 'counted']);
        const claimed = await store.claim('h-b', 'owner-1', claimOptions(1));
        expect(keysOf(claimed)).toEqual(['s1@1']);
        expect(await store.markPublished('h-b', 'owner-1', idsOf(claimed))).toBe(1);
        const next = await store.claim('h-b', 'owner-1', claimOptions(1));
        expect(await store.deadLetter('h-b', 'owner-1', nth(next, 0).id, 'parked')).toBe(true);
        await store.claim('h-b', 'owner-1', claimOptions(1));

        expect(await store.stats()).toEqual([
          { handler: 'h-a', pending: 3, oldestPendingAt: oldest, leased: 0, deadLettered: 0 },
          { handler: 'h-b', pending: 2, oldestPendingAt: OCCURRED_AT, leased: 1, deadLettered: 1 },
        ]);
        expect(await store.stats('h-a')).toEqual([{ handler: 'h-a', pending: 3, oldestPendingAt: oldest, leased: 0, deadLettered: 0 }]);
        await harness.advanceTime(LEASE_MS);
        expect((await store.stats('h-b'))[0]?.leased).toBe(0);
      });

      it('lists the entries under an unexpired lease with their holder, soonest expiry first, per handler', async () => {
        await store.subscribe([everything('h-a'), everything('h-b')]);
        await append('s1', 2);
        await append('s2', 1);
        const first = await store.claim('h-a', 'owner-1', claimOptions(1));
        await harness.advanceTime(10);
        const second = await store.claim('h-b', 'owner-2', claimOptions(2));
        expect(keysOf(await store.leased())).toEqual([...keysOf(first), ...keysOf(second)]);
        const leased = await store.leased('h-b');
        expect(keysOf(leased)).toEqual(keysOf(second));
        expect(leased.map((entry) => entry.leaseOwner)).toEqual(['owner-2', 'owner-2']);
        expect(nth(leased, 0).leaseUntil).toEqual(nth(second, 0).leaseUntil);
        expect(keysOf(await store.leased('h-b', 1))).toEqual(keysOf(second).slice(0, 1));
        expect(await store.leased('nobody')).toEqual([]);
        // Published, dead-lettered, released and expired entries are not leased.
        expect(await store.markPublished('h-b', 'owner-2', [nth(second, 0).id])).toBe(1);
        expect(await store.deadLetter('h-b', 'owner-2', nth(second, 1).id, 'parked')).toBe(true);
        expect(await store.leased('h-b')).toEqual([]);
        expect(keysOf(await store.leased())).toEqual(keysOf(first));
        await harness.advanceTime(LEASE_MS);
        expect(await store.leased()).toEqual([]);
        expectInvalidArgument(await failureOf(store.leased('h-a', 0)), 'limit', 0);
      });

      it('prunes only published entries older than the cutoff', async () => {
        await store.subscribe([everything()]);
        await append('pruned', 3);
        await append('parked', 1);
        const claimed = await store.claim('relay', 'owner-1', claimOptions());
        expect(keysOf(claimed)).toEqual(['parked@1', 'pruned@1', 'pruned@2', 'pruned@3']);
        const start = claimedAt(nth(claimed, 0));
        const [parked, first, second, third] = claimed;
        expect(await store.markPublished('relay', 'owner-1', [first?.id ?? ''])).toBe(1);
        expect(await store.deadLetter('relay', 'owner-1', parked?.id ?? '', 'parked')).toBe(true);
        await harness.advanceTime(1_000);
        expect(await store.markPublished('relay', 'owner-1', [second?.id ?? ''])).toBe(1);
        expect(await store.release('relay', 'owner-1', [third?.id ?? ''])).toBe(1);

        expect(await store.prunePublished(new Date(start))).toBe(0);
        expect(await store.prunePublished(new Date(start + 1))).toBe(1);
        expect(await store.prunePublished(new Date(start + 1))).toBe(0);
        // The cutoff is exclusive: published exactly at it is not older.
        expect(await store.prunePublished(new Date(start + 1_000))).toBe(0);
        expect(await store.prunePublished(new Date(start + 1_001))).toBe(1);
        expect(await store.prunePublished(new Date(Date.UTC(3000, 0, 1)))).toBe(0);

        expect(keysOf(await store.claim('relay', 'owner-2', claimOptions()))).toEqual(['pruned@3']);
        expect(idsOf(await store.deadLetters('relay'))).toEqual([parked?.id]);
      });
    });

    describe('integer arguments', () => {
      itEach(LARGE_INTEGERS)('claims and lists dead letters with limit %d', async (large) => {
        await store.subscribe([everything()]);
        await append('wide', 2);
        const claimed = await store.claim('relay', 'owner-1', claimOptions(large));
        expect(keysOf(claimed)).toEqual(['wide@1', 'wide@2']);
        expect(await store.deadLetter('relay', 'owner-1', nth(claimed, 0).id, 'parked')).toBe(true);
        expect(idsOf(await store.deadLetters('relay', large))).toEqual([nth(claimed, 0).id]);
        expect(idsOf(await store.deadLetters(undefined, large))).toEqual([nth(claimed, 0).id]);
      });

      itEach([...BAD_INTEGERS, 0])('refuses %p as a claim or dead-letter limit with InvalidArgumentError, leasing nothing', async (bad) => {
        await store.subscribe([everything()]);
        await append('guarded', 2);
        expectInvalidArgument(await failureOf(store.claim('relay', 'owner-1', claimOptions(bad))), 'limit', bad);
        expectInvalidArgument(await failureOf(store.deadLetters('relay', bad)), 'limit', bad);
        expect(keysOf(await store.claim('relay', 'owner-2', claimOptions()))).toEqual(['guarded@1', 'guarded@2']);
      });

      itEach(BAD_INTEGERS)('refuses a backfilled event with version or position %p by name, enqueuing nothing', async (bad) => {
        const past = await append('history', 2);
        await store.subscribe([everything('replay', 'beginning')]);
        for (const [field, argument] of [
          ['version', 'events[1].version'],
          ['position', 'events[1].position'],
        ] as const) {
          const events = [nth(past, 0), { ...nth(past, 1), [field]: bad }];
          expectInvalidArgument(await failureOf(store.backfill('replay', events, 'cursor-2', true)), argument, bad);
        }
        expect(await store.handlerState('replay')).toMatchObject({ backfillCursor: null });
        expect(await store.backfill('replay', past, 'cursor-2', true)).toBe(2);
      });

      it('backfills an event at the highest version it holds, and refuses one past it by name', async () => {
        const last = harness.maxStoredVersion ?? Number.MAX_SAFE_INTEGER;
        const event = nth(await append('tall', 1), 0);
        await store.subscribe([everything('replay', 'beginning')]);
        if (last < Number.MAX_SAFE_INTEGER) {
          const past = { ...event, eventId: randomUUID(), version: last + 1 };
          expectInvalidArgument(await failureOf(store.backfill('replay', [past], 'c', true)), 'events[0].version', last + 1);
        }
        expect(await store.backfill('replay', [{ ...event, version: last, position: Number.MAX_SAFE_INTEGER }], 'c', true)).toBe(1);
        expect((await store.claim('replay', 'owner-1', claimOptions())).map((entry) => entry.version)).toEqual([last]);
      });
    });

    describe('stream ids and names', () => {
      it('treats quotes, backslashes, SQL and unicode in stream ids and handler names as plain data', async () => {
        const handler = `h'; drop table x; --"`;
        await store.subscribe([everything(handler)]);
        const ids = [`odd-it's "quoted"`, "odd-'; drop table x; --", 'odd-back\\slash', 'odd-ünïcødé 流 🚀', 'odd-100%_', 'victim'];
        for (const streamId of ids) await append(streamId, 1, { aggregateType: 'odd' });
        const claimed = await store.claim(handler, 'owner-1', claimOptions());
        expect(claimed.map((entry) => entry.streamId)).toEqual([...ids].sort(byCodePoint));
        expect(claimed.map((entry) => entry.aggregateId)).toEqual([...ids].sort(byCodePoint).map((id) => id.replace(/^odd-/, '')));
        const dropper = claimed.find((entry) => entry.streamId === "odd-'; drop table x; --");
        expect(await store.markPublished(handler, 'owner-1', [dropper?.id ?? ''])).toBe(1);
        expect(await store.release(handler, 'owner-1')).toBe(ids.length - 1);
        await append("odd-'; drop table x; --", 1, { aggregateType: 'odd' });
        const again = await store.claim(handler, 'owner-2', claimOptions());
        expect(again).toHaveLength(ids.length);
        expect(again.find((entry) => entry.streamId === "odd-'; drop table x; --")?.version).toBe(2);
        expect(await store.stats(handler)).toEqual([
          { handler, pending: ids.length, oldestPendingAt: OCCURRED_AT, leased: ids.length, deadLettered: 0 },
        ]);
      });
    });
  });
}
