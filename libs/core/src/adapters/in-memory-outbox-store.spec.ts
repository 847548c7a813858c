import { outboxStoreContract } from '@chronicle/testing';
import type { Clock } from '../ports/clock.port.js';
import { InMemoryJournal } from './in-memory-journal.js';
import { InMemoryOutboxStore } from './in-memory-outbox-store.js';

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
