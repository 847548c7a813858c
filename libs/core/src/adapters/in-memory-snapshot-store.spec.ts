import { snapshotStoreContract } from '@chronicle/testing';
import { InMemorySnapshotStore } from './in-memory-snapshot-store.js';

snapshotStoreContract('in-memory', async () => ({ store: new InMemorySnapshotStore(), close: async () => undefined }));
