import { manualClock } from '@chronicle/testing';
import { outboxStoreContract } from '@chronicle/testing/contracts';
import { InMemoryJournal } from './in-memory-journal.js';
import { InMemoryOutboxStore } from './in-memory-outbox-store.js';

outboxStoreContract('in-memory', async () => {
  const clock = manualClock();
  const journal = new InMemoryJournal();
  const store = new InMemoryOutboxStore({ clock });
  journal.addParticipant(store);
  return {
    journal,
    store,
    advanceTime: async (ms) => clock.advance(ms),
    close: async () => undefined,
  };
});
