import { afterEach, beforeEach, describe, expect, it, itEach } from './contract-runner.js';
import { useContractRunner, type ContractRunner } from './contract-runner.js';
import { SagaConcurrencyError, type SagaChange, type SagaDeadline, type SagaInstance, type SagaStore } from '@chronicle/core';
import { failureOf } from './failure-of.js';
import { BAD_INTEGERS, expectInvalidArgument, LARGE_INTEGERS } from './integer-arguments.js';

/** What a `SagaStore` implementation hands the contract suite for one test. */
export interface SagaStoreContractHarness<Tx = unknown> {
  /** The store under test, over a fresh, empty database. */
  store: SagaStore<Tx>;
  /** Another store over the same database, as a second process would open it (omit for in-memory). */
  openSecond?: () => Promise<SagaStore<Tx>>;
  /**
   * The highest version the store's columns hold (PostgreSQL: 2^31 - 1, an int4 column); an
   * instance saved past it is refused with `InvalidArgumentError`. @default Number.MAX_SAFE_INTEGER
   */
  maxStoredVersion?: number;
  /** The stores' "now". Their clock must stand still unless {@link advanceTime} moves it: the suite compares times exactly. */
  now(): Date;
  /** Moves the stores' "now" forward (for due times and lease expiry), e.g. a controllable Clock. */
  advanceTime(ms: number): Promise<void>;
  /**
   * Runs `work` in a unit of work of the kind `save(change, tx)` takes (a subscription step's
   * transaction), committing it when `work` resolves and rolling it back when `work` throws.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Closes everything opened (including what openSecond opened). */
  close(): Promise<void>;
}

const LEASE_MS = 30_000;
const RACE_TIMEOUT_MS = 60_000;
const STARTED_AT = new Date(Date.UTC(2024, 8, 1, 10, 20, 30, 456));

function instance(sagaName: string, correlationId: string, overrides: Partial<SagaInstance> = {}): SagaInstance {
  return {
    sagaName,
    correlationId,
    state: { step: 'started', amount: 12.5 },
    stateVersion: 1,
    version: 1,
    status: 'active',
    startedAt: new Date(STARTED_AT),
    updatedAt: new Date(STARTED_AT),
    endedAt: null,
    ...overrides,
  };
}

function deadline(sagaName: string, correlationId: string, name: string, dueAt: Date, overrides: Partial<SagaDeadline> = {}): SagaDeadline {
  return {
    id: `${sagaName}:${correlationId}:${name}`,
    sagaName,
    correlationId,
    name,
    dueAt: new Date(dueAt),
    payload: null,
    attempts: 0,
    lastError: null,
    parkedAt: null,
    ...overrides,
  };
}

function idsOf(deadlines: readonly SagaDeadline[]): string[] {
  return deadlines.map((each) => each.id);
}

function later(base: Date, ms: number): Date {
  return new Date(base.getTime() + ms);
}

/**
 * The contract every `SagaStore` implementation must pass: one `describe` named
 * `SagaStore contract: <implementation>`, with a fresh harness (an empty store) per test.
 *
 * Rules it pins down beyond the port's text: the instance is stored as given (its `version`
 * is the caller's); a claim returns deadlines by due time, then id, and re-grants an owner its
 * own unexpired leases; a lease ending exactly now is expired; `releaseDeadline` and
 * `dropDeadline` of a non-holder change nothing; scheduling an id again clears its attempts,
 * error, park mark and lease; `deadlines` lists parked ones too.
 *
 * The tests are declared with `runner` (Jest's or Vitest's functions), or with the runner's
 * globals when it is omitted.
 */
export function sagaStoreContract<Tx>(implementation: string, open: () => Promise<SagaStoreContractHarness<Tx>>, runner?: ContractRunner): void {
  useContractRunner(runner);
  describe(`SagaStore contract: ${implementation}`, () => {
    let harness: SagaStoreContractHarness<Tx>;
    let store: SagaStore<Tx>;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close();
    });

    /** Starts an instance (version 1) with the given deadlines. */
    async function start(sagaName: string, correlationId: string, schedule: SagaDeadline[] = []): Promise<SagaInstance> {
      const started = instance(sagaName, correlationId);
      await store.save({ instance: started, expectedVersion: 0, schedule });
      return started;
    }

    /** Claims and fails the test unless exactly the given deadline ids come back. */
    async function claim(owner: string, expected: string[], limit = 100): Promise<SagaDeadline[]> {
      const claimed = await store.claimDue(owner, LEASE_MS, limit);
      expect(idsOf(claimed)).toEqual(expected);
      return claimed;
    }

    describe('instances', () => {
      it('loads nothing for an unknown instance, and loads a saved one with every field', async () => {
        expect(await store.load('order-saga', 'order-1')).toBeUndefined();
        const saved = instance('order-saga', 'order-1', {
          state: { owner: 'Zoë "q" \\ 世界 🌍', lines: [1, 'two', null, true, { deep: [] }], empty: {} },
          stateVersion: 3,
        });
        await store.save({ instance: saved, expectedVersion: 0 });
        expect(await store.load('order-saga', 'order-1')).toEqual(saved);
        expect(await store.load('order-saga', 'order-2')).toBeUndefined();
        expect(await store.load('other-saga', 'order-1')).toBeUndefined();
      });

      it('copies data in and out: mutating what was saved or loaded changes nothing stored', async () => {
        const saved = instance('order-saga', 'order-1', { state: { nested: { value: 1 } } });
        await store.save({ instance: saved, expectedVersion: 0 });
        (saved.state as { nested: { value: number } }).nested.value = 99;
        const loaded = await store.load('order-saga', 'order-1');
        (loaded?.state as { nested: { value: number } }).nested.value = 77;
        loaded?.startedAt.setTime(0);
        expect(await store.load('order-saga', 'order-1')).toEqual(instance('order-saga', 'order-1', { state: { nested: { value: 1 } } }));
      });

      it('stores a new instance only once: a second start fails with SagaConcurrencyError and changes nothing', async () => {
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', later(harness.now(), 1_000))]);
        const duplicate: SagaChange = {
          instance: instance('order-saga', 'order-1', { state: { step: 'duplicate' } }),
          expectedVersion: 0,
          schedule: [deadline('order-saga', 'order-1', 'remind', later(harness.now(), 5_000))],
        };
        const error = await failureOf(store.save(duplicate));
        expect(error).toBeInstanceOf(SagaConcurrencyError);
        expect(error).toMatchObject({ sagaName: 'order-saga', correlationId: 'order-1', expectedVersion: 0 });
        expect(await store.load('order-saga', 'order-1')).toEqual(instance('order-saga', 'order-1'));
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:expire']);
      });

      it(
        'keeps exactly one of several concurrent starts of one instance',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : store;
          const stores = [store, second, store, second];
          const outcomes = await Promise.allSettled(
            stores.map((each, index) => each.save({ instance: instance('order-saga', 'race', { state: { by: index } }), expectedVersion: 0 })),
          );
          const kept = outcomes.flatMap((outcome, index) => (outcome.status === 'fulfilled' ? [index] : []));
          expect(kept).toHaveLength(1);
          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(SagaConcurrencyError);
          }
          expect((await store.load('order-saga', 'race'))?.state).toEqual({ by: kept[0] });
        },
        RACE_TIMEOUT_MS,
      );

      it('saves a change only from the version the instance was loaded at', async () => {
        await start('order-saga', 'order-1');
        const updated = instance('order-saga', 'order-1', { state: { step: 'paid' }, version: 2, updatedAt: new Date(Date.UTC(2024, 8, 2)) });
        await store.save({ instance: updated, expectedVersion: 1 });
        expect(await store.load('order-saga', 'order-1')).toEqual(updated);

        for (const expectedVersion of [1, 3]) {
          const stale = instance('order-saga', 'order-1', { state: { step: 'stale' }, version: expectedVersion + 1 });
          const error = await failureOf(store.save({ instance: stale, expectedVersion }));
          expect(error).toBeInstanceOf(SagaConcurrencyError);
          expect(error).toMatchObject({ expectedVersion });
        }
        await expect(store.save({ instance: instance('order-saga', 'missing', { version: 2 }), expectedVersion: 1 })).rejects.toBeInstanceOf(
          SagaConcurrencyError,
        );
        expect(await store.load('order-saga', 'order-1')).toEqual(updated);
        expect(await store.load('order-saga', 'missing')).toBeUndefined();
      });

      it(
        'keeps exactly one of several concurrent saves from one version',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : store;
          await start('order-saga', 'order-1');
          const outcomes = await Promise.allSettled(
            [store, second, store, second].map((each, index) =>
              each.save({ instance: instance('order-saga', 'order-1', { version: 2, state: { by: index } }), expectedVersion: 1 }),
            ),
          );
          const kept = outcomes.flatMap((outcome, index) => (outcome.status === 'fulfilled' ? [index] : []));
          expect(kept).toHaveLength(1);
          expect(await store.load('order-saga', 'order-1')).toMatchObject({ version: 2, state: { by: kept[0] } });
        },
        RACE_TIMEOUT_MS,
      );

      it('keeps instances of different sagas with the same correlation id apart', async () => {
        await start('order-saga', 'shared');
        await store.save({ instance: instance('billing-saga', 'shared', { state: { billing: true } }), expectedVersion: 0 });
        expect((await store.load('order-saga', 'shared'))?.state).toEqual(instance('order-saga', 'shared').state);
        expect((await store.load('billing-saga', 'shared'))?.state).toEqual({ billing: true });
      });

      it('stores a completed instance with its end time', async () => {
        await start('order-saga', 'order-1');
        const completed = instance('order-saga', 'order-1', { version: 2, status: 'completed', endedAt: new Date(Date.UTC(2024, 8, 3, 1, 2, 3, 4)) });
        await store.save({ instance: completed, expectedVersion: 1, cancel: ['*'] });
        expect(await store.load('order-saga', 'order-1')).toEqual(completed);
      });
    });

    describe('deadlines of a change', () => {
      it('schedules deadlines with the instance, listed unfired by due time then id, every field kept', async () => {
        const now = harness.now();
        const payload = { reminder: 2, to: ['a@example.com'], note: 'ü' };
        const scheduled = [
          deadline('order-saga', 'order-1', 'remind-b', later(now, 2_000), { payload }),
          deadline('order-saga', 'order-1', 'expire', later(now, 5_000)),
          deadline('order-saga', 'order-1', 'remind-a', later(now, 2_000)),
        ];
        await start('order-saga', 'order-1', scheduled);
        await start('order-saga', 'order-2', [deadline('order-saga', 'order-2', 'expire', later(now, 1_000))]);
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([scheduled[2], scheduled[0], scheduled[1]]);
        expect(await store.deadlines('order-saga', 'unknown')).toEqual([]);
      });

      it('moves a deadline scheduled again under its id, starting it over', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now)]);
        await claim('worker-1', ['order-saga:order-1:expire']);
        await store.releaseDeadline('order-saga:order-1:expire', 'worker-1', 'handler failed', null);
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([
          deadline('order-saga', 'order-1', 'expire', now, { attempts: 1, lastError: 'handler failed', parkedAt: now }),
        ]);

        const moved = deadline('order-saga', 'order-1', 'expire', later(now, 10_000), { payload: { moved: true } });
        await store.save({ instance: instance('order-saga', 'order-1', { version: 2 }), expectedVersion: 1, schedule: [moved] });
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([moved]);
        await claim('worker-2', []);
        await harness.advanceTime(10_000);
        expect(await claim('worker-2', ['order-saga:order-1:expire'])).toEqual([moved]);
      });

      it('cancels deadlines by name, or every one with "*", of its own instance only', async () => {
        const now = harness.now();
        const names = ['expire', 'remind', 'escalate'];
        await start('order-saga', 'order-1', names.map((name, index) => deadline('order-saga', 'order-1', name, later(now, index * 1_000))));
        await start('order-saga', 'order-2', names.map((name) => deadline('order-saga', 'order-2', name, now)));
        await store.save({ instance: instance('order-saga', 'order-1', { version: 2 }), expectedVersion: 1, cancel: ['remind', 'unknown'] });
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:expire', 'order-saga:order-1:escalate']);

        await store.save({ instance: instance('order-saga', 'order-1', { version: 3 }), expectedVersion: 2, cancel: ['*'] });
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([]);
        expect(await store.deadlines('order-saga', 'order-2')).toHaveLength(3);
        // Cancelled deadlines never fire.
        await harness.advanceTime(5_000);
        expect(idsOf(await store.claimDue('worker-1', LEASE_MS, 100)).every((id) => id.startsWith('order-saga:order-2:'))).toBe(true);
      });

      it('cancels before it schedules: a change may cancel everything and set a new deadline', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now), deadline('order-saga', 'order-1', 'remind', now)]);
        const replacement = deadline('order-saga', 'order-1', 'expire', later(now, 3_000));
        await store.save({ instance: instance('order-saga', 'order-1', { version: 2 }), expectedVersion: 1, cancel: ['*'], schedule: [replacement] });
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([replacement]);
      });

      it('keeps nothing of a change whose instance is stale: no deadline scheduled or cancelled', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now)]);
        await store.save({ instance: instance('order-saga', 'order-1', { version: 2 }), expectedVersion: 1 });
        await expect(
          store.save({
            instance: instance('order-saga', 'order-1', { version: 2 }),
            expectedVersion: 1,
            cancel: ['*'],
            schedule: [deadline('order-saga', 'order-1', 'remind', now)],
          }),
        ).rejects.toBeInstanceOf(SagaConcurrencyError);
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:expire']);
      });

      it('saves inside a unit of work: committed with it, rolled back with it, refused at once when stale', async () => {
        const now = harness.now();
        await harness.transaction((tx) =>
          store.save({ instance: instance('order-saga', 'order-1'), expectedVersion: 0, schedule: [deadline('order-saga', 'order-1', 'expire', now)] }, tx),
        );
        expect(await store.load('order-saga', 'order-1')).toEqual(instance('order-saga', 'order-1'));

        const failure = new Error('the step failed after the save');
        const error = await failureOf(
          harness.transaction(async (tx) => {
            await store.save(
              {
                instance: instance('order-saga', 'order-1', { version: 2, state: { step: 'rolled back' } }),
                expectedVersion: 1,
                cancel: ['*'],
                schedule: [deadline('order-saga', 'order-1', 'remind', now)],
              },
              tx,
            );
            throw failure;
          }),
        );
        expect(error).toBe(failure);
        expect(await store.load('order-saga', 'order-1')).toEqual(instance('order-saga', 'order-1'));
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:expire']);

        await expect(
          harness.transaction((tx) => store.save({ instance: instance('order-saga', 'order-1', { version: 3 }), expectedVersion: 2 }, tx)),
        ).rejects.toBeInstanceOf(SagaConcurrencyError);
        expect((await store.load('order-saga', 'order-1'))?.version).toBe(1);
      });
    });

    describe('saveAll (a step saving many instances)', () => {
      it('saves new and changed instances of one transaction, each with its deadlines', async () => {
        const saveAll = store.saveAll?.bind(store);
        if (!saveAll) return; // Optional: a saga saves each change in turn without it.
        const now = harness.now();
        await store.save({ instance: instance('order-saga', 'order-0'), expectedVersion: 0, schedule: [deadline('order-saga', 'order-0', 'expire', now)] });
        await harness.transaction((tx) =>
          saveAll(
            [
              { instance: instance('order-saga', 'order-1'), expectedVersion: 0 },
              { instance: instance('order-saga', 'order-2', { status: 'completed', endedAt: new Date(STARTED_AT) }), expectedVersion: 0 },
              { instance: instance('order-saga', 'order-0', { version: 2, state: { step: 'paid' } }), expectedVersion: 1, cancel: ['*'] },
              { instance: instance('order-saga', 'order-3'), expectedVersion: 0, schedule: [deadline('order-saga', 'order-3', 'remind', now)] },
            ],
            tx,
          ),
        );
        expect(await store.load('order-saga', 'order-1')).toEqual(instance('order-saga', 'order-1'));
        expect(await store.load('order-saga', 'order-2')).toEqual(instance('order-saga', 'order-2', { status: 'completed', endedAt: new Date(STARTED_AT) }));
        expect(await store.load('order-saga', 'order-0')).toEqual(instance('order-saga', 'order-0', { version: 2, state: { step: 'paid' } }));
        expect(await store.deadlines('order-saga', 'order-0')).toEqual([]);
        expect(idsOf(await store.deadlines('order-saga', 'order-3'))).toEqual(['order-saga:order-3:remind']);
      });

      it('fails the whole transaction when one instance exists already or is stale: none of the changes is kept', async () => {
        const saveAll = store.saveAll?.bind(store);
        if (!saveAll) return;
        await store.save({ instance: instance('order-saga', 'order-2'), expectedVersion: 0 });
        for (const changes of [
          [
            { instance: instance('order-saga', 'order-1'), expectedVersion: 0 },
            { instance: instance('order-saga', 'order-2', { state: { step: 'again' } }), expectedVersion: 0 },
            { instance: instance('order-saga', 'order-3'), expectedVersion: 0 },
          ],
          [
            { instance: instance('order-saga', 'order-1'), expectedVersion: 0 },
            { instance: instance('order-saga', 'order-2', { version: 3 }), expectedVersion: 2 },
          ],
          [
            { instance: instance('order-saga', 'order-1'), expectedVersion: 0 },
            { instance: instance('order-saga', 'order-1', { state: { step: 'twice' } }), expectedVersion: 0 },
          ],
        ] satisfies SagaChange[][]) {
          await expect(harness.transaction((tx) => saveAll(changes, tx))).rejects.toBeInstanceOf(SagaConcurrencyError);
          expect(await store.load('order-saga', 'order-1')).toBeUndefined();
          expect(await store.load('order-saga', 'order-3')).toBeUndefined();
          expect(await store.load('order-saga', 'order-2')).toEqual(instance('order-saga', 'order-2'));
        }
      });
    });

    describe('claiming deadlines', () => {
      it('leases only due deadlines, earliest first, up to the limit, and re-grants an owner its own leases', async () => {
        const now = harness.now();
        await start('order-saga', 'a', [deadline('order-saga', 'a', 'late', later(now, -1_000)), deadline('order-saga', 'a', 'future', later(now, 1_000))]);
        await start('order-saga', 'b', [deadline('order-saga', 'b', 'now', now), deadline('order-saga', 'b', 'early', later(now, -2_000))]);

        const first = await claim('worker-1', ['order-saga:b:early', 'order-saga:a:late'], 2);
        expect(first[0]).toEqual(deadline('order-saga', 'b', 'early', later(now, -2_000)));
        await claim('worker-1', ['order-saga:b:early', 'order-saga:a:late', 'order-saga:b:now']);
        await claim('worker-2', []);

        await harness.advanceTime(1_000);
        await claim('worker-2', ['order-saga:a:future']);
        await harness.advanceTime(LEASE_MS - 1_000);
        // worker-1's leases ran out exactly now; worker-2 also gets its own lease back.
        await claim('worker-2', ['order-saga:b:early', 'order-saga:a:late', 'order-saga:b:now', 'order-saga:a:future']);
        await claim('worker-1', []);
      });

      it(
        'never hands one deadline to two concurrent claimers',
        async () => {
          const second = harness.openSecond ? await harness.openSecond() : store;
          const now = harness.now();
          for (let index = 0; index < 10; index++) {
            const id = String(index).padStart(2, '0');
            await start('order-saga', `order-${id}`, [deadline('order-saga', `order-${id}`, 'expire', later(now, -index))]);
          }
          const claimers = [store, second, store, second];
          const seen = new Set<string>();
          for (let round = 0; round < 10 && seen.size < 10; round++) {
            const batches = await Promise.all(claimers.map((each, index) => each.claimDue(`worker-${index}`, LEASE_MS, 2)));
            for (const [index, batch] of batches.entries()) {
              for (const claimed of batch) {
                expect(seen.has(claimed.id)).toBe(false);
                seen.add(claimed.id);
                // Fired by its claimer: a claimer whose lease is gone could not mark it.
                await claimers[index]!.dropDeadline(claimed.id, `worker-${index}`);
              }
            }
          }
          expect(seen.size).toBe(10);
          await claim('worker-9', []);
        },
        RACE_TIMEOUT_MS,
      );

      it('counts overdue deadlines per saga: due, neither fired nor parked, leased ones included', async () => {
        const now = harness.now();
        expect(await store.overdueDeadlines()).toEqual([]);
        await start('order-saga', 'a', [deadline('order-saga', 'a', 'late', later(now, -1_000)), deadline('order-saga', 'a', 'future', later(now, 1_000))]);
        await start('order-saga', 'b', [
          deadline('order-saga', 'b', 'now', now),
          deadline('order-saga', 'b', 'parked', later(now, -3_000)),
          deadline('order-saga', 'b', 'fired', later(now, -4_000)),
        ]);
        await start('billing', 'c', [deadline('billing', 'c', 'late', later(now, -1))]);
        expect(await store.overdueDeadlines()).toEqual([
          { sagaName: 'billing', count: 1 },
          { sagaName: 'order-saga', count: 4 },
        ]);

        await store.claimDue('worker-1', LEASE_MS, 100);
        await store.releaseDeadline('order-saga:b:parked', 'worker-1', 'boom', null);
        await store.dropDeadline('order-saga:b:fired', 'worker-1');
        expect(await store.overdueDeadlines()).toEqual([
          { sagaName: 'billing', count: 1 },
          { sagaName: 'order-saga', count: 2 },
        ]);
        await harness.advanceTime(1_000);
        expect(await store.overdueDeadlines()).toEqual([
          { sagaName: 'billing', count: 1 },
          { sagaName: 'order-saga', count: 3 },
        ]);
      });

      it('marks a deadline fired with the change handling it, fenced by its claimer, once', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now), deadline('order-saga', 'order-1', 'remind', later(now, 60_000))]);
        await claim('worker-1', ['order-saga:order-1:expire']);
        const fire = (owner: string, expectedVersion: number): Promise<void> =>
          store.save({
            instance: instance('order-saga', 'order-1', { version: expectedVersion + 1, state: { step: `fired by ${owner}` } }),
            expectedVersion,
            schedule: [deadline('order-saga', 'order-1', 'follow-up', later(now, 1_000))],
            fired: { id: 'order-saga:order-1:expire', owner },
          });

        await expect(fire('worker-2', 1)).rejects.toBeInstanceOf(SagaConcurrencyError);
        expect((await store.load('order-saga', 'order-1'))?.version).toBe(1);
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:expire', 'order-saga:order-1:remind']);

        await fire('worker-1', 1);
        expect(await store.load('order-saga', 'order-1')).toMatchObject({ version: 2, state: { step: 'fired by worker-1' } });
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:follow-up', 'order-saga:order-1:remind']);
        await expect(fire('worker-1', 2)).rejects.toBeInstanceOf(SagaConcurrencyError);
        expect((await store.load('order-saga', 'order-1'))?.version).toBe(2);

        await harness.advanceTime(LEASE_MS);
        await claim('worker-2', ['order-saga:order-1:follow-up']);
      });

      it('gives a failed deadline back to fire again at retryAt, counting the attempt, for its holder only', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now)]);
        await claim('worker-1', ['order-saga:order-1:expire']);

        await store.releaseDeadline('order-saga:order-1:expire', 'worker-2', 'not mine', later(now, 1_000));
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([deadline('order-saga', 'order-1', 'expire', now)]);
        await claim('worker-2', []);

        await store.releaseDeadline('order-saga:order-1:expire', 'worker-1', 'handler failed', later(now, 5_000));
        const retrying = deadline('order-saga', 'order-1', 'expire', later(now, 5_000), { attempts: 1, lastError: 'handler failed' });
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([retrying]);
        await claim('worker-2', []);
        await harness.advanceTime(4_999);
        await claim('worker-2', []);
        await harness.advanceTime(1);
        expect(await claim('worker-2', ['order-saga:order-1:expire'])).toEqual([retrying]);
        // The lease went with the release: worker-1 can no longer change it.
        await store.releaseDeadline('order-saga:order-1:expire', 'worker-1', 'late', null);
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([retrying]);
      });

      it('parks a deadline released without a retry time: listed with its error, never claimed again', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now)]);
        await claim('worker-1', ['order-saga:order-1:expire']);
        await harness.advanceTime(500);
        await store.releaseDeadline('order-saga:order-1:expire', 'worker-1', 'gave up', null);
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([
          deadline('order-saga', 'order-1', 'expire', now, { attempts: 1, lastError: 'gave up', parkedAt: harness.now() }),
        ]);
        await harness.advanceTime(LEASE_MS * 10);
        await claim('worker-1', []);
        await claim('worker-2', []);
      });

      it('drops a deadline for its holder only, and a fired deadline cannot be released', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now), deadline('order-saga', 'order-1', 'remind', now)]);
        await claim('worker-1', ['order-saga:order-1:expire', 'order-saga:order-1:remind']);
        await store.dropDeadline('order-saga:order-1:expire', 'worker-2');
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:expire', 'order-saga:order-1:remind']);
        await store.dropDeadline('order-saga:order-1:expire', 'worker-1');
        expect(idsOf(await store.deadlines('order-saga', 'order-1'))).toEqual(['order-saga:order-1:remind']);
        await store.releaseDeadline('order-saga:order-1:expire', 'worker-1', 'after drop', now);
        await store.dropDeadline('order-saga:unknown', 'worker-1');
        await harness.advanceTime(LEASE_MS);
        await claim('worker-2', ['order-saga:order-1:remind']);
      });
    });

    describe('integer arguments', () => {
      itEach(LARGE_INTEGERS)('lists instances and claims deadlines with limit %d', async (large) => {
        const now = harness.now();
        await start('order-saga', 'a', [deadline('order-saga', 'a', 'due', later(now, -1_000))]);
        await start('order-saga', 'b');
        expect((await store.list('order-saga', { limit: large })).map((each) => each.correlationId)).toEqual(['a', 'b']);
        await claim('worker-1', ['order-saga:a:due'], large);
      });

      itEach(LARGE_INTEGERS)('treats an expected version of %d as a conflict and changes nothing', async (large) => {
        await start('order-saga', 'order-1');
        const change: SagaChange = {
          instance: instance('order-saga', 'order-1', { version: 2, state: { step: 'moved' } }),
          expectedVersion: large,
          schedule: [deadline('order-saga', 'order-1', 'remind', later(harness.now(), 1_000))],
        };
        const error = await failureOf(store.save(change));
        expect(error).toBeInstanceOf(SagaConcurrencyError);
        expect(error).toMatchObject({ correlationId: 'order-1', expectedVersion: large });
        expect(await store.load('order-saga', 'order-1')).toEqual(instance('order-saga', 'order-1'));
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([]);
      });

      it('saves an instance at the highest version it holds, and refuses one past it by name', async () => {
        const last = harness.maxStoredVersion ?? Number.MAX_SAFE_INTEGER;
        await store.save({ instance: instance('order-saga', 'tall', { version: last, stateVersion: last }), expectedVersion: 0 });
        expect(await store.load('order-saga', 'tall')).toEqual(instance('order-saga', 'tall', { version: last, stateVersion: last }));
        if (last < Number.MAX_SAFE_INTEGER) {
          const past = failureOf(store.save({ instance: instance('order-saga', 'taller', { version: last + 1 }), expectedVersion: 0 }));
          expectInvalidArgument(await past, 'change.instance.version', last + 1);
          expect(await store.load('order-saga', 'taller')).toBeUndefined();
        }
      });

      itEach(BAD_INTEGERS)('refuses %p as a version or limit with InvalidArgumentError naming it, and changes nothing', async (bad) => {
        await start('order-saga', 'order-1');
        const moved = (overrides: Partial<SagaInstance>, expectedVersion = 1): SagaChange => ({
          instance: instance('order-saga', 'order-1', { version: 2, state: { step: 'moved' }, ...overrides }),
          expectedVersion,
          schedule: [deadline('order-saga', 'order-1', 'remind', later(harness.now(), -1_000))],
        });
        expectInvalidArgument(await failureOf(store.save(moved({}, bad))), 'change.expectedVersion', bad);
        expectInvalidArgument(await failureOf(store.save(moved({ version: bad }))), 'change.instance.version', bad);
        expectInvalidArgument(await failureOf(store.save(moved({ stateVersion: bad }))), 'change.instance.stateVersion', bad);
        expectInvalidArgument(await failureOf(harness.transaction((tx) => store.save(moved({ version: bad }), tx))), 'change.instance.version', bad);
        expectInvalidArgument(await failureOf(store.list('order-saga', { limit: bad })), 'limit', bad);
        expectInvalidArgument(await failureOf(store.claimDue('worker-1', LEASE_MS, bad)), 'limit', bad);
        expect(await store.load('order-saga', 'order-1')).toEqual(instance('order-saga', 'order-1'));
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([]);
      });

      itEach([0, ...BAD_INTEGERS])('refuses a lease of %p ms with InvalidArgumentError naming leaseMs, and claims nothing', async (bad) => {
        const due = deadline('order-saga', 'order-1', 'remind', later(harness.now(), -1_000));
        await start('order-saga', 'order-1', [due]);
        expectInvalidArgument(await failureOf(store.claimDue('worker-1', bad, 10)), 'leaseMs', bad);
        // Nothing was leased by the refused claim: another worker claims the deadline at once.
        expect(idsOf(await store.claimDue('worker-2', LEASE_MS, 10))).toEqual([due.id]);
      });
    });

    describe('list, delete and prune', () => {
      it('lists a saga\'s instances by correlation id in code-point order, by status, after a key, up to a limit', async () => {
        const ids = ['b', 'a', 'B', 'é', '😀', 'ｚ'];
        for (const [index, id] of ids.entries()) {
          await store.save({
            instance: instance('order-saga', id, index % 2 === 0 ? {} : { status: 'completed', endedAt: new Date(STARTED_AT) }),
            expectedVersion: 0,
          });
        }
        await start('other-saga', 'a');
        const correlationIds = (instances: SagaInstance[]): string[] => instances.map((each) => each.correlationId);
        expect(correlationIds(await store.list('order-saga'))).toEqual(['B', 'a', 'b', 'é', 'ｚ', '😀']);
        expect(correlationIds(await store.list('order-saga', { status: 'active' }))).toEqual(['B', 'b', '😀']);
        expect(correlationIds(await store.list('order-saga', { status: 'completed' }))).toEqual(['a', 'é', 'ｚ']);
        expect(correlationIds(await store.list('order-saga', { after: 'b', limit: 2 }))).toEqual(['é', 'ｚ']);
        expect(correlationIds(await store.list('order-saga', { status: 'completed', after: 'a' }))).toEqual(['é', 'ｚ']);
        expect(await store.list('order-saga', { after: 'é', limit: 1 })).toEqual([
          instance('order-saga', 'ｚ', { status: 'completed', endedAt: new Date(STARTED_AT) }),
        ]);
        expect(await store.list('no-saga')).toEqual([]);
      });

      it('lists at most 100 instances unless told otherwise', async () => {
        await harness.transaction(async (tx) => {
          for (let index = 0; index < 101; index++) {
            await store.save({ instance: instance('order-saga', `order-${String(index).padStart(3, '0')}`), expectedVersion: 0 }, tx);
          }
        });
        const listed = await store.list('order-saga');
        expect(listed).toHaveLength(100);
        expect(listed[99]?.correlationId).toBe('order-099');
        expect(await store.list('order-saga', { limit: 101 })).toHaveLength(101);
      });

      it('deletes an instance with its deadlines, leaving the others', async () => {
        const now = harness.now();
        await start('order-saga', 'order-1', [deadline('order-saga', 'order-1', 'expire', now)]);
        await start('order-saga', 'order-2', [deadline('order-saga', 'order-2', 'expire', now)]);
        await store.delete('order-saga', 'order-1');
        await store.delete('order-saga', 'unknown');
        expect(await store.load('order-saga', 'order-1')).toBeUndefined();
        expect(await store.deadlines('order-saga', 'order-1')).toEqual([]);
        await claim('worker-1', ['order-saga:order-2:expire']);
        // A deleted instance can start again.
        await start('order-saga', 'order-1');
        expect((await store.load('order-saga', 'order-1'))?.version).toBe(1);
      });

      it('prunes completed instances that ended before the cutoff, and returns how many', async () => {
        const cutoff = new Date(Date.UTC(2024, 9, 1));
        const completed = (id: string, endedAt: Date): SagaInstance => instance('order-saga', id, { status: 'completed', endedAt });
        await store.save({ instance: completed('old', later(cutoff, -1)), expectedVersion: 0 });
        await store.save({ instance: completed('at-cutoff', cutoff), expectedVersion: 0 });
        await store.save({ instance: completed('recent', later(cutoff, 1)), expectedVersion: 0 });
        await store.save({ instance: instance('billing-saga', 'old', { status: 'completed', endedAt: later(cutoff, -5) }), expectedVersion: 0 });
        // Active instances stay, however old, and so do their unfired deadlines.
        await start('order-saga', 'active', [deadline('order-saga', 'active', 'expire', later(cutoff, -10_000))]);

        expect(await store.pruneCompleted(cutoff)).toBe(2);
        expect((await store.list('order-saga')).map((each) => each.correlationId)).toEqual(['active', 'at-cutoff', 'recent']);
        expect(await store.list('billing-saga')).toEqual([]);
        expect(idsOf(await store.deadlines('order-saga', 'active'))).toEqual(['order-saga:active:expire']);
        expect(await store.pruneCompleted(cutoff)).toBe(0);
      });
    });
  });
}
