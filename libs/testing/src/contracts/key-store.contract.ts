import { afterEach, beforeEach, describe, expect, it, itEach } from './contract-runner.js';
import { useContractRunner, type ContractRunner } from './contract-runner.js';
import {
  InvalidArgumentError,
  MasterKeyMismatchError,
  MasterKeyMissingError,
  type DataKeyLookup,
  type KeyStore,
  type MasterKeyOptions,
} from '@chronicle/core';
import { failureOf } from './failure-of.js';

/** What a `KeyStore` implementation hands the contract suite for one test. */
export interface KeyStoreContractHarness {
  /** A store over a fresh, empty database, with the master keys the suite asked for. */
  store: KeyStore;
  /**
   * Another store over the same database with other master keys, as a second instance (or a
   * restart with new configuration) would be; it must throw `MasterKeyMissingError` when built
   * without a master key.
   */
  reopen(masterKeys: MasterKeyOptions | undefined): Promise<KeyStore>;
  /** Closes everything the harness opened. */
  close(): Promise<void>;
}

const key = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
const OLD: MasterKeyOptions = { current: { id: 'm1', key: key(1) } };
const ROTATING: MasterKeyOptions = { current: { id: 'm2', key: key(2) }, previous: [{ id: 'm1', key: key(1) }] };
const NEW_ONLY: MasterKeyOptions = { current: { id: 'm2', key: key(2) } };
const WRONG: MasterKeyOptions = { current: { id: 'm1', key: key(9) } };

function active(lookup: DataKeyLookup | undefined): { keyId: string; key: string } {
  if (!lookup || lookup.state !== 'active') throw new Error(`expected an active key, got ${lookup ? lookup.state : 'none'}`);
  expect(lookup.key.length).toBe(32);
  return { keyId: lookup.keyId, key: Buffer.from(lookup.key).toString('hex') };
}

/**
 * The contract every `KeyStore` implementation must pass: one `describe` named
 * `KeyStore contract: <implementation>`, with a fresh harness per test, opened with master key `m1`.
 */
export function keyStoreContract(
  implementation: string,
  open: (masterKeys: MasterKeyOptions) => Promise<KeyStoreContractHarness>,
  runner?: ContractRunner,
): void {
  useContractRunner(runner);
  describe(`KeyStore contract: ${implementation}`, () => {
    let harness: KeyStoreContractHarness;
    let store: KeyStore;

    beforeEach(async () => {
      harness = await open(OLD);
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close();
    });

    it('creates a data key per subject on first use and hands out the same key afterwards', async () => {
      const first = active(await store.keyFor('account-1'));
      const again = active(await store.keyFor('account-1'));
      const other = active(await store.keyFor('account-2'));
      expect(again).toEqual(first);
      expect(other.keyId).not.toBe(first.keyId);
      expect(other.key).not.toBe(first.key);
      expect(active(await store.keyById(first.keyId))).toEqual(first);
    });

    it('agrees on one key when instances use a subject for the first time concurrently', async () => {
      const second = await harness.reopen(OLD);
      const lookups = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? second : store).keyFor('account-race')));
      const keys = new Set(lookups.map((lookup) => JSON.stringify(active(lookup))));
      expect(keys.size).toBe(1);
    });

    it('answers undefined for a key id it never issued', async () => {
      expect(await store.keyById('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('forgets a subject durably: its key is gone for every instance, for good, and the time is reported', async () => {
      const { keyId } = active(await store.keyFor('account-1'));
      active(await store.keyFor('account-2'));
      const before = Date.now();
      const result = await store.forget('account-1');
      expect(result.subject).toBe('account-1');
      expect(result.destroyedNow).toBe(true);
      expect(result.forgottenAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
      const second = await harness.reopen(OLD);
      for (const lookup of [await store.keyFor('account-1'), await second.keyFor('account-1'), await second.keyById(keyId)]) {
        expect(lookup).toMatchObject({ state: 'forgotten', subject: 'account-1' });
        expect((lookup as { key?: unknown }).key).toBeUndefined();
      }
      expect((await second.keyFor('account-2')).state).toBe('active');
      const again = await second.forget('account-1');
      expect(again.destroyedNow).toBe(false);
      expect(again.forgottenAt.getTime()).toBe(result.forgottenAt.getTime());
    });

    it('reports which of the listed key ids are forgotten, for every instance (when it implements forgottenAmong)', async () => {
      if (!store.forgottenAmong) return;
      const kept = active(await store.keyFor('account-1')).keyId;
      const gone = active(await store.keyFor('account-2')).keyId;
      expect(await store.forgottenAmong([kept, gone])).toEqual([]);
      await store.forget('account-2');
      const second = await harness.reopen(OLD);
      expect(await second.forgottenAmong!([kept, gone, 'never-issued'])).toEqual([gone]);
      expect(await store.forgottenAmong!([])).toEqual([]);
      // Many ids at once (a whole key cache): every forgotten one is reported.
      const many = await Promise.all(Array.from({ length: 1200 }, (_, i) => store.keyFor(`bulk-${i}`)));
      await store.forget('bulk-1100');
      const found = await second.forgottenAmong!([...many.map((lookup) => lookup.keyId!), gone]);
      expect(found.sort()).toEqual([many[1100]!.keyId!, gone].sort());
    }, 30_000); // 1,200 keys created on a database: seconds under a loaded CI host, not Jest's default 5 s.

    it('remembers the forgetting of a subject it had no key for, so that it never gets one', async () => {
      await store.forget('never-seen');
      expect((await store.keyFor('never-seen')).state).toBe('forgotten');
    });

    it('re-wraps every data key with the new master key while the keys stay the same', async () => {
      const keys = [];
      for (let i = 0; i < 5; i++) keys.push(active(await store.keyFor(`account-${i}`)));
      await store.forget('account-4');
      const rotating = await harness.reopen(ROTATING);
      expect(active(await rotating.keyById(keys[0]!.keyId))).toEqual(keys[0]);
      const result = await rotating.rotateMasterKey({ batchSize: 2 });
      expect(result.rewrapped).toBe(4);
      expect((await rotating.rotateMasterKey()).rewrapped).toBe(0);
      const rotated = await harness.reopen(NEW_ONLY);
      for (const known of keys.slice(0, 4)) expect(active(await rotated.keyById(known.keyId))).toEqual(known);
      expect((await rotated.keyById(keys[4]!.keyId))?.state).toBe('forgotten');
      const stale = await failureOf(store.keyById(keys[0]!.keyId));
      expect(stale).toBeInstanceOf(MasterKeyMissingError);
    });

    it('keeps serving and creating keys while the master key rotates', async () => {
      for (let i = 0; i < 10; i++) await store.keyFor(`before-${i}`);
      const rotating = await harness.reopen(ROTATING);
      const other = await harness.reopen(ROTATING);
      const [, created] = await Promise.all([
        rotating.rotateMasterKey({ batchSize: 3 }),
        Promise.all(Array.from({ length: 10 }, (_, i) => other.keyFor(i % 2 ? `during-${i}` : `before-${i}`))),
      ]);
      for (const lookup of created) active(lookup);
      await rotating.rotateMasterKey();
      const rotated = await harness.reopen(NEW_ONLY);
      for (let i = 0; i < 10; i++) {
        active(await rotated.keyFor(`before-${i}`));
        if (i % 2) active(await rotated.keyFor(`during-${i}`));
      }
    });

    it('refuses a wrong master key by name, with no key material in the message', async () => {
      const { keyId } = active(await store.keyFor('account-1'));
      const wrong = await harness.reopen(WRONG);
      const error = await failureOf(wrong.keyById(keyId));
      expect(error).toBeInstanceOf(MasterKeyMismatchError);
      expect((error as Error).message).not.toContain(key(9));
      expect((error as Error).message).not.toContain(key(1));
    });

    it('refuses to start without a master key', async () => {
      expect(await failureOf(harness.reopen(undefined))).toBeInstanceOf(MasterKeyMissingError);
      expect(await failureOf(harness.reopen({ current: { id: 'm1', key: Buffer.alloc(16).toString('base64') } }))).toBeInstanceOf(
        MasterKeyMissingError,
      );
    });

    itEach<unknown>(['', 'x'.repeat(201), 42, null])('refuses the subject %p before touching a key', async (subject) => {
      expect(await failureOf(store.keyFor(subject as string))).toBeInstanceOf(InvalidArgumentError);
      expect(await failureOf(store.forget(subject as string))).toBeInstanceOf(InvalidArgumentError);
    });
  });
}
