import { checkpointStoreContract } from '@chronicle/testing';
import type { Clock } from '../ports/clock.port.js';
import { InMemoryCheckpointStore } from './in-memory-checkpoint-store.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';

/** A clock that stands still until told to move. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = Date.UTC(2025, 0, 1, 12, 0, 0, 0);
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
  };
}

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
