import { afterEach, beforeEach, describe, expect, it } from './contract-runner.js';
import { useContractRunner, type ContractRunner } from './contract-runner.js';
import { CheckpointLeaseLostError, type Checkpoint, type CheckpointStore, type ParkedEvent } from '@chronicle/core';
import { failureOf } from './failure-of.js';

/** What a `CheckpointStore` implementation hands the contract suite for one test. */
export interface CheckpointStoreContractHarness<Tx = unknown> {
  /** The store under test, over a fresh, empty database. */
  store: CheckpointStore<Tx>;
  /** Another store over the same database, as a second process would open it (omit for in-memory). */
  openSecond?: () => Promise<CheckpointStore<Tx>>;
  /** The stores' "now". Their clock must stand still unless {@link advanceTime} moves it: the suite compares times exactly. */
  now(): Date;
  /** Moves the stores' "now" forward (for lease expiry), e.g. a controllable Clock. */
  advanceTime(ms: number): Promise<void>;
  /**
   * Writes `marker` through the transaction handle a step or rebuild gives its work, the way a
   * read model would be written: it must commit or roll back with that transaction.
   */
  writeMarker(tx: Tx, marker: string): Promise<void>;
  /** The markers committed so far, in any order. */
  readMarkers(): Promise<string[]>;
  /** Closes everything opened (including what openSecond opened). */
  close(): Promise<void>;
}

const LEASE_MS = 30_000;
const RACE_TIMEOUT_MS = 60_000;
const PARKED_AT = new Date(Date.UTC(2024, 10, 5, 6, 7, 8, 901));
// Above 2^31: positions are 64-bit in the databases.
const POSITION_BASE = 5_000_000_000;

function parked(eventId: string, streamId: string, version: number, overrides: Partial<ParkedEvent> = {}): ParkedEvent {
  return {
    subscription: 'projection:balances',
    eventId,
    streamId,
    version,
    position: POSITION_BASE + version,
    type: 'wallet.credited',
    reason: 'failed',
    error: `cannot project ${streamId}@${version}`,
    attempts: 3,
    parkedAt: new Date(PARKED_AT),
    redriveRequestedAt: null,
    ...overrides,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

function keysOf(events: readonly ParkedEvent[]): string[] {
  return events.map((event) => `${event.streamId}@${event.version}`);
}

/**
 * The contract every `CheckpointStore` implementation must pass: one `describe` named
 * `CheckpointStore contract: <implementation>`, with a fresh harness (an empty store) per test.
 *
 * Rules it pins down beyond the port's text: a lease is exclusive until `leaseUntil` (a lease
 * ending exactly now is expired); the fencing of `advance` checks the owner and the position,
 * not the lease's expiry; `release` and `recordError` of a non-holder change nothing; parked
 * events are filed under the subscription they were parked by, listed by stream in code-point
 * order and then by version as a number; `reset` leaves the lease alone.
 *
 * The tests are declared with `runner` (Jest's or Vitest's functions), or with the runner's
 * globals when it is omitted.
 */
export function checkpointStoreContract<Tx>(implementation: string, open: () => Promise<CheckpointStoreContractHarness<Tx>>, runner?: ContractRunner): void {
  useContractRunner(runner);
  describe(`CheckpointStore contract: ${implementation}`, () => {
    let harness: CheckpointStoreContractHarness<Tx>;
    let store: CheckpointStore<Tx>;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close();
    });

    /** Acquires for `owner` and fails the test when the store refuses. */
    async function acquired(name: string, owner: string, leaseMs = LEASE_MS): Promise<Checkpoint> {
      const checkpoint = await store.acquire(name, owner, leaseMs);
      if (checkpoint === undefined) throw new Error(`expected ${owner} to acquire ${name}`);
      return checkpoint;
    }

    describe('acquire and release', () => {
      it('creates the checkpoint at null the first time, leased to the owner until now + leaseMs', async () => {
        const now = harness.now();
        expect(await store.load('projection:new')).toBeUndefined();
        const checkpoint = await store.acquire('projection:new', 'runner-1', LEASE_MS);
        expect(checkpoint).toEqual({
          name: 'projection:new',
          position: null,
          leaseOwner: 'runner-1',
          leaseUntil: new Date(now.getTime() + LEASE_MS),
          lastError: null,
          updatedAt: now,
        });
        expect(await store.load('projection:new')).toEqual(checkpoint);
      });

      it('refuses another owner while the lease runs, and hands the lease over once it has run out', async () => {
        await acquired('projection:a', 'runner-1', 1_000);
        expect(await store.acquire('projection:a', 'runner-2', LEASE_MS)).toBeUndefined();
        await harness.advanceTime(999);
        expect(await store.acquire('projection:a', 'runner-2', LEASE_MS)).toBeUndefined();
        expect((await store.load('projection:a'))?.leaseOwner).toBe('runner-1');

        await harness.advanceTime(1);
        const takenOver = await store.acquire('projection:a', 'runner-2', LEASE_MS);
        expect(takenOver).toMatchObject({ leaseOwner: 'runner-2', leaseUntil: new Date(harness.now().getTime() + LEASE_MS) });
        expect(await store.acquire('projection:a', 'runner-1', LEASE_MS)).toBeUndefined();
        expect((await store.load('projection:a'))?.leaseOwner).toBe('runner-2');
      });

      it('extends the lease of its holder and keeps position and last error across owners', async () => {
        await acquired('projection:a', 'runner-1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '7', lastError: 'parked one' });
        await harness.advanceTime(5_000);
        const extended = await acquired('projection:a', 'runner-1');
        expect(extended).toMatchObject({ position: '7', lastError: 'parked one', leaseOwner: 'runner-1' });
        expect(extended.leaseUntil?.getTime()).toBe(harness.now().getTime() + LEASE_MS);

        await harness.advanceTime(LEASE_MS);
        expect(await acquired('projection:a', 'runner-2')).toMatchObject({ position: '7', lastError: 'parked one', leaseOwner: 'runner-2' });
      });

      it('gives the lease up on release by its holder only', async () => {
        await acquired('projection:a', 'runner-1');
        await store.release('projection:a', 'runner-2');
        expect(await store.load('projection:a')).toMatchObject({ leaseOwner: 'runner-1' });
        expect(await store.acquire('projection:a', 'runner-2', LEASE_MS)).toBeUndefined();

        await store.release('projection:a', 'runner-1');
        expect(await store.load('projection:a')).toMatchObject({ leaseOwner: null, leaseUntil: null, position: null });
        expect(await store.acquire('projection:a', 'runner-2', LEASE_MS)).toMatchObject({ leaseOwner: 'runner-2' });
        // Releasing an unknown checkpoint is harmless.
        await store.release('projection:unknown', 'runner-1');
        expect(await store.load('projection:unknown')).toBeUndefined();
      });

      it(
        'lets exactly one of several concurrent acquirers win, on a new and on an expired checkpoint',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : store;
          const stores = [store, second, store, second];
          for (const name of ['race:1', 'race:2', 'race:3']) {
            const results = await Promise.all(stores.map((each, index) => each.acquire(name, `runner-${index}`, 1_000)));
            const winners = results.filter((result) => result !== undefined);
            expect(winners).toHaveLength(1);
            expect((await store.load(name))?.leaseOwner).toBe(winners[0]?.leaseOwner);
          }
          await harness.advanceTime(1_000);
          const results = await Promise.all(stores.map((each, index) => each.acquire('race:1', `late-${index}`, 1_000)));
          expect(results.filter((result) => result !== undefined)).toHaveLength(1);
        },
        RACE_TIMEOUT_MS,
      );
    });

    describe('advance', () => {
      it('moves the checkpoint from the position read, with work in the same transaction, and returns what work returns', async () => {
        await acquired('projection:a', 'runner-1');
        await harness.advanceTime(2_000);
        const result = await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '4' }, async (tx) => {
          await harness.writeMarker(tx, 'step-1');
          return 42;
        });
        expect(result).toBe(42);
        expect(await store.load('projection:a')).toMatchObject({ position: '4', updatedAt: harness.now(), leaseOwner: 'runner-1' });
        expect(await harness.readMarkers()).toEqual(['step-1']);

        expect(await store.advance({ name: 'projection:a', owner: 'runner-1', from: '4', to: '9' })).toBeUndefined();
        expect((await store.load('projection:a'))?.position).toBe('9');
      });

      it('refuses a runner that does not hold the lease with CheckpointLeaseLostError, keeping nothing of the step', async () => {
        await acquired('projection:a', 'runner-1', 1_000);
        const before = await store.load('projection:a');
        const step = {
          name: 'projection:a',
          owner: 'runner-2',
          from: null,
          to: '3',
          park: [parked('evt-1', 'wallet-1', 1)],
          lastError: 'should not be kept',
        };
        const error = await failureOf(store.advance(step, (tx) => harness.writeMarker(tx, 'intruder')));
        expect(error).toBeInstanceOf(CheckpointLeaseLostError);
        expect(error).toMatchObject({ subscription: 'projection:a', owner: 'runner-2' });

        // The old holder is fenced out once another runner took the expired lease over.
        await harness.advanceTime(1_000);
        await acquired('projection:a', 'runner-2');
        await expect(
          store.advance({ ...step, owner: 'runner-1' }, (tx) => harness.writeMarker(tx, 'old-holder')),
        ).rejects.toBeInstanceOf(CheckpointLeaseLostError);

        expect(await store.load('projection:a')).toMatchObject({ position: null, lastError: null, updatedAt: before?.updatedAt });
        expect(await store.parked('projection:a')).toEqual([]);
        expect(await harness.readMarkers()).toEqual([]);
      });

      it('refuses a step from a position that has moved (a stale runner), keeping nothing of it', async () => {
        await acquired('projection:a', 'runner-1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '3' });
        await expect(
          store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '5', park: [parked('evt-1', 'w', 1)] }, (tx) =>
            harness.writeMarker(tx, 'stale'),
          ),
        ).rejects.toBeInstanceOf(CheckpointLeaseLostError);
        await expect(store.advance({ name: 'projection:a', owner: 'runner-1', from: '2', to: '5' })).rejects.toBeInstanceOf(
          CheckpointLeaseLostError,
        );
        expect((await store.load('projection:a'))?.position).toBe('3');
        expect(await store.parked('projection:a')).toEqual([]);
        expect(await harness.readMarkers()).toEqual([]);
      });

      it('refuses a step of a checkpoint that does not exist', async () => {
        await expect(store.advance({ name: 'projection:none', owner: 'runner-1', from: null, to: '1' })).rejects.toBeInstanceOf(
          CheckpointLeaseLostError,
        );
        expect(await store.load('projection:none')).toBeUndefined();
      });

      it('keeps nothing of a step whose work throws, and rethrows what it threw', async () => {
        await acquired('projection:a', 'runner-1');
        const failure = new Error('read model write failed');
        const error = await failureOf(
          store.advance(
            { name: 'projection:a', owner: 'runner-1', from: null, to: '8', park: [parked('evt-1', 'wallet-1', 1)], lastError: 'x' },
            async (tx) => {
              await harness.writeMarker(tx, 'half-done');
              throw failure;
            },
          ),
        );
        expect(error).toBe(failure);
        expect(await store.load('projection:a')).toMatchObject({ position: null, lastError: null, leaseOwner: 'runner-1' });
        expect(await store.parked('projection:a')).toEqual([]);
        expect(await harness.readMarkers()).toEqual([]);
        // The checkpoint is still usable from where it was.
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '8' }, (tx) => harness.writeMarker(tx, 'redone'));
        expect(await harness.readMarkers()).toEqual(['redone']);
      });

      it('sets the last error with a step, clears it with null, and keeps it when the step says nothing', async () => {
        await acquired('projection:a', 'runner-1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '1', lastError: 'parked wallet-1@1' });
        expect((await store.load('projection:a'))?.lastError).toBe('parked wallet-1@1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: '1', to: '2' });
        expect((await store.load('projection:a'))?.lastError).toBe('parked wallet-1@1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: '2', to: '3', lastError: null });
        expect((await store.load('projection:a'))?.lastError).toBeNull();
      });

      it(
        'keeps exactly one of two concurrent steps from the same position, with its work only',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : store;
          await acquired('projection:a', 'runner-1');
          const step = (to: string) => ({ name: 'projection:a', owner: 'runner-1', from: null, to, park: [parked(`evt-${to}`, `wallet-${to}`, 1)] });
          const outcomes = await Promise.allSettled([
            store.advance(step('a'), async (tx) => {
              await harness.writeMarker(tx, 'a');
              await delay(50);
            }),
            second.advance(step('b'), async (tx) => {
              await harness.writeMarker(tx, 'b');
              await delay(50);
            }),
          ]);
          const kept = outcomes.flatMap((outcome, index) => (outcome.status === 'fulfilled' ? [index === 0 ? 'a' : 'b'] : []));
          expect(kept).toHaveLength(1);
          const refused = outcomes.find((outcome) => outcome.status === 'rejected');
          expect((refused as PromiseRejectedResult | undefined)?.reason).toBeInstanceOf(CheckpointLeaseLostError);
          expect((await store.load('projection:a'))?.position).toBe(kept[0]);
          expect(await harness.readMarkers()).toEqual(kept);
          expect(keysOf(await store.parked('projection:a'))).toEqual([`wallet-${kept[0]}@1`]);
        },
        RACE_TIMEOUT_MS,
      );
    });

    describe('parked events', () => {
      it('parks events with a step, under its subscription, listed by stream (code points) then version, every field kept', async () => {
        await acquired('projection:balances', 'runner-1');
        const events = [
          parked('e5', 'wallet-b', 10),
          parked('e1', 'wallet-b', 2, { reason: 'held', error: 'waits behind parked event e0', attempts: 0 }),
          parked('e2', 'Wallet-z', 1),
          parked('e3', 'wallet-😀', 1),
          parked('e4', 'wallet-ｚ', 1, { error: null, redriveRequestedAt: new Date(Date.UTC(2024, 10, 6)) }),
          parked('e6', 'wallet-a', 7, { type: 'wallet.opened', position: 12 }),
        ];
        await store.advance({ name: 'projection:balances', owner: 'runner-1', from: null, to: '20', park: events });

        const listed = await store.parked('projection:balances');
        expect(keysOf(listed)).toEqual(['Wallet-z@1', 'wallet-a@7', 'wallet-b@2', 'wallet-b@10', 'wallet-ｚ@1', 'wallet-😀@1']);
        const byId = new Map(events.map((event) => [event.eventId, event]));
        for (const event of listed) expect(event).toEqual(byId.get(event.eventId));
        expect(listed.find((event) => event.eventId === 'e4')?.redriveRequestedAt).toEqual(new Date(Date.UTC(2024, 10, 6)));

        expect(keysOf(await store.parked('projection:balances', { streamId: 'wallet-b' }))).toEqual(['wallet-b@2', 'wallet-b@10']);
        expect(keysOf(await store.parked('projection:balances', { limit: 2 }))).toEqual(['Wallet-z@1', 'wallet-a@7']);
        expect(keysOf(await store.parked('projection:balances', { streamId: 'wallet-b', limit: 1 }))).toEqual(['wallet-b@2']);
        expect(await store.parked('projection:other')).toEqual([]);
      });

      it('files parked events under the subscription that parked them, whatever they say', async () => {
        await acquired('projection:a', 'runner-1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '1', park: [parked('e1', 's', 1, { subscription: 'projection:b' })] });
        expect(await store.parked('projection:b')).toEqual([]);
        expect(await store.parked('projection:a')).toEqual([parked('e1', 's', 1, { subscription: 'projection:a' })]);
      });

      it('updates an event parked again (a failed re-drive) and forgets unparked ones, with the step', async () => {
        await acquired('projection:balances', 'runner-1');
        await store.advance({
          name: 'projection:balances',
          owner: 'runner-1',
          from: null,
          to: '5',
          park: [parked('e1', 'wallet-1', 1), parked('e2', 'wallet-1', 2, { reason: 'held' }), parked('e3', 'wallet-2', 1)],
        });
        const retried = parked('e1', 'wallet-1', 1, { attempts: 4, error: 'still failing', parkedAt: new Date(Date.UTC(2024, 11, 1)) });
        await store.advance({ name: 'projection:balances', owner: 'runner-1', from: '5', to: '5', park: [retried], unpark: ['e3', 'unknown'] });
        expect(await store.parked('projection:balances')).toEqual([retried, parked('e2', 'wallet-1', 2, { reason: 'held' })]);

        await store.advance({ name: 'projection:balances', owner: 'runner-1', from: '5', to: '6', unpark: ['e1', 'e2'] });
        expect(await store.parked('projection:balances')).toEqual([]);
      });

      it('marks one stream or every stream for re-drive, counting them, and a step clears one stream', async () => {
        await acquired('projection:balances', 'runner-1');
        await acquired('projection:other', 'runner-1');
        await store.advance({
          name: 'projection:balances',
          owner: 'runner-1',
          from: null,
          to: '9',
          park: [parked('e1', 'wallet-1', 1), parked('e2', 'wallet-1', 2), parked('e3', 'wallet-2', 4)],
        });
        await store.advance({ name: 'projection:other', owner: 'runner-1', from: null, to: '9', park: [parked('o1', 'wallet-1', 1)] });
        await harness.advanceTime(1_000);
        const requestedAt = harness.now();

        expect(await store.requestRedrive('projection:balances', 'wallet-1')).toBe(2);
        expect((await store.parked('projection:balances')).map((event) => event.redriveRequestedAt)).toEqual([requestedAt, requestedAt, null]);
        expect((await store.parked('projection:balances', { redriveRequested: true })).map((event) => event.eventId)).toEqual(['e1', 'e2']);
        expect(await store.requestRedrive('projection:balances', 'wallet-9')).toBe(0);
        expect(await store.requestRedrive('projection:none')).toBe(0);
        expect(await store.requestRedrive('projection:balances')).toBe(3);
        expect((await store.parked('projection:balances')).every((event) => event.redriveRequestedAt?.getTime() === requestedAt.getTime())).toBe(true);
        expect((await store.parked('projection:other'))[0]?.redriveRequestedAt).toBeNull();

        await store.advance({ name: 'projection:balances', owner: 'runner-1', from: '9', to: '9', clearRedrive: 'wallet-1' });
        expect((await store.parked('projection:balances')).map((event) => event.redriveRequestedAt)).toEqual([null, null, requestedAt]);
      });
    });

    describe('recordError', () => {
      it('records a failure for the lease holder only, without moving the checkpoint', async () => {
        await acquired('projection:a', 'runner-1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '2' });
        await harness.advanceTime(3_000);
        await store.recordError('projection:a', 'runner-2', 'not mine');
        expect((await store.load('projection:a'))?.lastError).toBeNull();
        await store.recordError('projection:a', 'runner-1', 'batch failed: timeout');
        expect(await store.load('projection:a')).toMatchObject({ position: '2', lastError: 'batch failed: timeout', updatedAt: harness.now() });
      });
    });

    describe('reset', () => {
      it('replaces position and parked events with what work returns, in one transaction with work, leaving the lease', async () => {
        await acquired('projection:a', 'runner-1');
        await store.advance({
          name: 'projection:a',
          owner: 'runner-1',
          from: null,
          to: '7',
          park: [parked('old-1', 'wallet-1', 1), parked('old-2', 'wallet-2', 1)],
          lastError: 'parked old-1',
        });
        const park = [parked('new-1', 'wallet-3', 2, { subscription: 'projection:a' })];
        const result = await store.reset('projection:a', async (tx) => {
          await harness.writeMarker(tx, 'rebuilt');
          return { position: '12', park };
        });
        expect(result).toEqual({ position: '12', park });
        expect(await store.load('projection:a')).toMatchObject({ position: '12', lastError: null, leaseOwner: 'runner-1' });
        expect(await store.parked('projection:a')).toEqual(park);
        expect(await harness.readMarkers()).toEqual(['rebuilt']);

        // The live runner's next step from its old position is fenced out; from the new one it goes on.
        await expect(store.advance({ name: 'projection:a', owner: 'runner-1', from: '7', to: '8' })).rejects.toBeInstanceOf(
          CheckpointLeaseLostError,
        );
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: '12', to: '13' });
        expect((await store.load('projection:a'))?.position).toBe('13');
      });

      it('keeps the old checkpoint, parked events and read model when work throws', async () => {
        await acquired('projection:a', 'runner-1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '7', park: [parked('old-1', 'wallet-1', 1)], lastError: 'e' });
        const failure = new Error('rebuild failed');
        const error = await failureOf(
          store.reset('projection:a', async (tx) => {
            await harness.writeMarker(tx, 'half-rebuilt');
            throw failure;
          }),
        );
        expect(error).toBe(failure);
        expect(await store.load('projection:a')).toMatchObject({ position: '7', lastError: 'e', leaseOwner: 'runner-1' });
        expect(keysOf(await store.parked('projection:a'))).toEqual(['wallet-1@1']);
        expect(await harness.readMarkers()).toEqual([]);
      });

      it('creates a checkpoint that did not exist, without a lease', async () => {
        expect(await store.reset('projection:fresh', async () => ({ position: '3', park: [] }))).toEqual({ position: '3', park: [] });
        expect(await store.load('projection:fresh')).toMatchObject({ name: 'projection:fresh', position: '3', leaseOwner: null, leaseUntil: null });
        expect(await store.acquire('projection:fresh', 'runner-1', LEASE_MS)).toMatchObject({ position: '3', leaseOwner: 'runner-1' });
      });
    });

    describe('nested', () => {
      it('undoes only the writes of nested work that throws, in a step and in a rebuild', async () => {
        await acquired('projection:a', 'runner-1');
        const inner = new Error('one event failed');
        const result = await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '1' }, async (tx) => {
          await harness.writeMarker(tx, 'outer-1');
          const kept = await store.nested(tx, async () => {
            await harness.writeMarker(tx, 'inner-kept');
            return 'inner-result';
          });
          expect(kept).toBe('inner-result');
          const error = await failureOf(
            store.nested(tx, async () => {
              await harness.writeMarker(tx, 'inner-undone');
              throw inner;
            }),
          );
          expect(error).toBe(inner);
          await harness.writeMarker(tx, 'outer-2');
          return 'done';
        });
        expect(result).toBe('done');
        expect(sorted(await harness.readMarkers())).toEqual(['inner-kept', 'outer-1', 'outer-2']);

        await store.reset('projection:a', async (tx) => {
          await store.nested(tx, () => harness.writeMarker(tx, 'rebuild-kept'));
          await store.nested(tx, async () => {
            await harness.writeMarker(tx, 'rebuild-undone');
            throw inner;
          }).catch(() => undefined);
          return { position: '1', park: [] };
        });
        expect(sorted(await harness.readMarkers())).toEqual(['inner-kept', 'outer-1', 'outer-2', 'rebuild-kept']);
      });

      it('is undone with the step when the step fails afterwards', async () => {
        await acquired('projection:a', 'runner-1');
        await expect(
          store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '1' }, async (tx) => {
            await store.nested(tx, () => harness.writeMarker(tx, 'nested'));
            throw new Error('later failure');
          }),
        ).rejects.toThrow('later failure');
        expect(await harness.readMarkers()).toEqual([]);
      });
    });

    describe('load, list and delete', () => {
      it('lists every checkpoint by name in code-point order', async () => {
        for (const name of ['b', 'a', 'B', 'é', '😀', 'ｚ']) await acquired(name, 'runner-1');
        expect((await store.list()).map((checkpoint) => checkpoint.name)).toEqual(['B', 'a', 'b', 'é', 'ｚ', '😀']);
        expect(await store.list()).toEqual(await Promise.all(['B', 'a', 'b', 'é', 'ｚ', '😀'].map(async (name) => store.load(name))));
      });

      it('deletes a checkpoint with its parked events, leaving the others', async () => {
        await acquired('projection:a', 'runner-1');
        await acquired('projection:b', 'runner-1');
        await store.advance({ name: 'projection:a', owner: 'runner-1', from: null, to: '4', park: [parked('e1', 'w', 1)] });
        await store.advance({ name: 'projection:b', owner: 'runner-1', from: null, to: '4', park: [parked('e1', 'w', 1)] });
        await store.delete('projection:a');
        await store.delete('projection:unknown');
        expect(await store.load('projection:a')).toBeUndefined();
        expect(await store.parked('projection:a')).toEqual([]);
        expect((await store.list()).map((checkpoint) => checkpoint.name)).toEqual(['projection:b']);
        expect(keysOf(await store.parked('projection:b'))).toEqual(['w@1']);
        // A deleted subscription starts over from null.
        expect(await store.acquire('projection:a', 'runner-2', LEASE_MS)).toMatchObject({ position: null, leaseOwner: 'runner-2' });
      });
    });
  });
}
