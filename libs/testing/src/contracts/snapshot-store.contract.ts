import { afterEach, beforeEach, describe, expect, it } from './contract-runner.js';
import { useContractRunner, type ContractRunner } from './contract-runner.js';
import type { JsonObject, Snapshot, SnapshotStore } from '@chronicle/core';

/** What a `SnapshotStore` implementation hands the contract suite for one test. */
export interface SnapshotStoreContractHarness {
  /** A store over a fresh, empty database. */
  store: SnapshotStore;
  /** Closes everything the harness opened. */
  close(): Promise<void>;
}

const TAKEN_AT = new Date(Date.UTC(2024, 6, 14, 9, 30, 15, 789));
const KEEP_ALL = 100;

function snapshot(streamId: string, version: number, overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    streamId,
    aggregateType: 'account',
    version,
    schemaVersion: 1,
    state: { version, balance: version * 10 },
    takenAt: new Date(TAKEN_AT),
    ...overrides,
  };
}

async function versionOf(store: SnapshotStore, streamId: string, maxVersion?: number): Promise<number | undefined> {
  const found = await store.load(streamId, maxVersion === undefined ? undefined : { maxVersion });
  return found?.version;
}

/**
 * The contract every `SnapshotStore` implementation must pass: one `describe` named
 * `SnapshotStore contract: <implementation>`, with a fresh harness (an empty store) per test.
 *
 * The tests are declared with `runner` (Jest's or Vitest's functions), or with the runner's
 * globals when it is omitted.
 */
export function snapshotStoreContract(implementation: string, open: () => Promise<SnapshotStoreContractHarness>, runner?: ContractRunner): void {
  useContractRunner(runner);
  describe(`SnapshotStore contract: ${implementation}`, () => {
    let harness: SnapshotStoreContractHarness;
    let store: SnapshotStore;

    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close();
    });

    it('loads nothing for a stream without snapshots', async () => {
      await store.save(snapshot('other', 1), KEEP_ALL);
      expect(await store.load('unknown')).toBeUndefined();
      expect(await store.load('unknown', { maxVersion: 10 })).toBeUndefined();
    });

    it('loads what was saved: state, version, schema version, aggregate type, takenAt to the millisecond', async () => {
      const state: JsonObject = {
        owner: 'Zoë "the owner" O\'Brien \\ 世界 🌍',
        balance: 10.25,
        limits: { daily: 500, list: [1, 'two', null, true, { deep: [] }] },
        empty: {},
      };
      const saved = snapshot('acc-1', 7, { aggregateType: 'savings-account', schemaVersion: 3, state });
      await store.save(saved, KEEP_ALL);

      const loaded = await store.load('acc-1');
      expect(loaded).toEqual(saved);
      expect(loaded?.takenAt).toBeInstanceOf(Date);
      expect(loaded?.takenAt.getTime()).toBe(TAKEN_AT.getTime());
    });

    it('copies data in and out: mutating what was saved or loaded changes nothing stored', async () => {
      const state = { nested: { value: 1 }, list: [1] };
      const saved = snapshot('acc-copy', 1, { state });
      await store.save(saved, KEEP_ALL);
      state.nested.value = 99;
      state.list.push(2);
      saved.takenAt.setTime(0);
      const loaded = await store.load('acc-copy');
      (loaded?.state as typeof state).nested.value = 77;
      expect(await store.load('acc-copy')).toMatchObject({ state: { nested: { value: 1 }, list: [1] }, takenAt: TAKEN_AT });
    });

    it('loads the newest snapshot, whatever order they were saved in', async () => {
      await store.save(snapshot('acc-2', 1), KEEP_ALL);
      await store.save(snapshot('acc-2', 5), KEEP_ALL);
      await store.save(snapshot('acc-2', 3), KEEP_ALL);
      expect(await store.load('acc-2')).toEqual(snapshot('acc-2', 5));
    });

    it('with maxVersion loads the newest at or below it, or nothing', async () => {
      for (const version of [2, 4, 6]) await store.save(snapshot('acc-3', version), KEEP_ALL);
      expect(await store.load('acc-3', { maxVersion: 5 })).toEqual(snapshot('acc-3', 4));
      expect(await versionOf(store, 'acc-3', 6)).toBe(6);
      expect(await versionOf(store, 'acc-3', 100)).toBe(6);
      expect(await versionOf(store, 'acc-3', 2)).toBe(2);
      expect(await versionOf(store, 'acc-3', 1)).toBeUndefined();
    });

    it('keeps only the newest `keep` snapshots of a stream', async () => {
      for (const version of [1, 2, 3, 4, 5]) await store.save(snapshot('acc-4', version), 2);
      expect(await versionOf(store, 'acc-4')).toBe(5);
      expect(await versionOf(store, 'acc-4', 4)).toBe(4);
      expect(await versionOf(store, 'acc-4', 3)).toBeUndefined();
      expect(await versionOf(store, 'acc-4', 1)).toBeUndefined();
    });

    it('accepts the same version twice; the last save wins', async () => {
      await store.save(snapshot('acc-5', 3, { state: { which: 'first' } }), KEEP_ALL);
      await store.save(snapshot('acc-5', 3, { state: { which: 'second' }, schemaVersion: 2 }), KEEP_ALL);
      expect(await store.load('acc-5')).toEqual(snapshot('acc-5', 3, { state: { which: 'second' }, schemaVersion: 2 }));
      expect(await store.load('acc-5', { maxVersion: 3 })).toMatchObject({ state: { which: 'second' } });
    });

    it('counts a version saved twice once when pruning to `keep`', async () => {
      await store.save(snapshot('acc-7', 1), 2);
      await store.save(snapshot('acc-7', 3), 2);
      await store.save(snapshot('acc-7', 3, { state: { again: true } }), 2);
      expect(await store.load('acc-7', { maxVersion: 2 })).toEqual(snapshot('acc-7', 1));
      expect(await store.load('acc-7')).toEqual(snapshot('acc-7', 3, { state: { again: true } }));
    });

    it('keeps streams apart: loading, pruning and deleting one leaves the others', async () => {
      await store.save(snapshot('left', 1), KEEP_ALL);
      await store.save(snapshot('left', 2), KEEP_ALL);
      for (const version of [1, 2, 3]) await store.save(snapshot('right', version), 1);
      expect(await versionOf(store, 'left')).toBe(2);
      expect(await versionOf(store, 'left', 1)).toBe(1);
      expect(await versionOf(store, 'right')).toBe(3);
      expect(await versionOf(store, 'right', 2)).toBeUndefined();

      await store.delete('right');
      expect(await store.load('left')).toEqual(snapshot('left', 2));
      expect(await versionOf(store, 'left', 1)).toBe(1);
    });

    it('delete removes every snapshot of the stream', async () => {
      for (const version of [1, 2, 3]) await store.save(snapshot('acc-6', version), KEEP_ALL);
      await store.delete('acc-6');
      expect(await store.load('acc-6')).toBeUndefined();
      expect(await store.load('acc-6', { maxVersion: 2 })).toBeUndefined();
      await expect(store.delete('never-saved')).resolves.toBeUndefined();

      await store.save(snapshot('acc-6', 4), KEEP_ALL);
      expect(await versionOf(store, 'acc-6')).toBe(4);
    });

    it('treats quotes, backslashes, SQL, unicode and long stream ids as plain data', async () => {
      await store.save(snapshot('victim', 1), KEEP_ALL);
      const ids = [`it's "quoted"`, 'back\\slash', "'; drop table x; --", 'ünïcødé 流 🚀', 'x'.repeat(500), '100%_'];
      for (const [index, id] of ids.entries()) await store.save(snapshot(id, index + 1, { state: { id } }), KEEP_ALL);
      for (const [index, id] of ids.entries()) {
        expect(await store.load(id)).toEqual(snapshot(id, index + 1, { state: { id } }));
      }
      await store.delete("'; drop table x; --");
      expect(await store.load("'; drop table x; --")).toBeUndefined();
      expect(await versionOf(store, '100%_')).toBe(6);
      expect(await store.load('victim')).toEqual(snapshot('victim', 1));
    });
  });
}
