import { manualClock } from '@chronicle/testing';
import { sagaStoreContract } from '@chronicle/testing/contracts';
import { InMemorySagaStore } from './in-memory-saga-store.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';

/** Runs `work` in a unit of work whose `onCommit` changes apply only when it resolves. */
async function inTransaction<T>(work: (tx: InMemoryTransaction) => Promise<T>): Promise<T> {
  const changes: Array<() => void> = [];
  const result = await work({ onCommit: (apply) => void changes.push(apply) });
  for (const apply of changes) apply();
  return result;
}

sagaStoreContract<InMemoryTransaction>('in-memory', async () => {
  const clock = manualClock();
  return {
    store: new InMemorySagaStore(clock),
    now: () => clock.now(),
    advanceTime: async (ms) => clock.advance(ms),
    transaction: inTransaction,
    close: async () => undefined,
  };
});
