import { manualClock } from '@chronicle/testing';
import { checkpointStoreContract } from '@chronicle/testing/contracts';
import { InMemoryCheckpointStore } from './in-memory-checkpoint-store.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';

checkpointStoreContract<InMemoryTransaction>('in-memory', async () => {
  const clock = manualClock();
  const markers: string[] = [];
  return {
    store: new InMemoryCheckpointStore(clock),
    now: () => clock.now(),
    advanceTime: async (ms) => clock.advance(ms),
    writeMarker: async (tx, marker) => tx.onCommit(() => markers.push(marker)),
    readMarkers: async () => [...markers],
    close: async () => undefined,
  };
});
