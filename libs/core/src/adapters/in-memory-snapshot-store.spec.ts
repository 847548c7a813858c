import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { snapshotStoreContract } from '@chronicle/testing/contracts';
import { InMemorySnapshotStore } from './in-memory-snapshot-store.js';

// Declared with the runner's globals (no runner passed) and with the runner's functions passed
// explicitly, the two ways an implementation can run a contract suite.
snapshotStoreContract('in-memory', async () => ({ store: new InMemorySnapshotStore(), close: async () => undefined }));
snapshotStoreContract('in-memory (runner passed explicitly)', async () => ({ store: new InMemorySnapshotStore(), close: async () => undefined }), {
  describe,
  it,
  beforeEach,
  afterEach,
  expect,
});
