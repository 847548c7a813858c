import type { ChronicleStorage } from '../ports/chronicle-storage.port.js';
import type { Clock } from '../ports/clock.port.js';
import { InMemoryCheckpointStore } from './in-memory-checkpoint-store.js';
import { InMemoryJournal } from './in-memory-journal.js';
import { InMemoryOutboxStore } from './in-memory-outbox-store.js';
import { InMemorySagaStore } from './in-memory-saga-store.js';
import { InMemorySnapshotStore } from './in-memory-snapshot-store.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';

/** Options of {@link createInMemoryStorage}. */
export interface InMemoryStorageOptions {
  /** Time source of the stores' leases and timestamps. @default systemClock */
  clock?: Clock;
}

/** The in-memory stores, wired as {@link createInMemoryStorage} returns them. */
export interface InMemoryStorage extends ChronicleStorage<InMemoryTransaction> {
  readonly journal: InMemoryJournal;
  readonly snapshots: InMemorySnapshotStore;
  readonly outbox: InMemoryOutboxStore;
  readonly checkpoints: InMemoryCheckpointStore;
  readonly sagas: InMemorySagaStore;
  readonly notifications: null;
}

/**
 * Every store in memory, for tests and prototypes: the outbox is the journal's participant; no
 * notifications (a process only wakes itself, after its own commits); nothing to migrate. The
 * data lives as long as the returned object.
 */
export function createInMemoryStorage(options: InMemoryStorageOptions = {}): InMemoryStorage {
  const journal = new InMemoryJournal();
  const outbox = new InMemoryOutboxStore(options.clock === undefined ? {} : { clock: options.clock });
  // Entries are written in the events' own unit of work: that is the transactional outbox.
  journal.addParticipant(outbox);
  return {
    journal,
    snapshots: new InMemorySnapshotStore(),
    outbox,
    checkpoints: new InMemoryCheckpointStore(options.clock),
    sagas: new InMemorySagaStore(options.clock),
    notifications: null,
    migrate: () => Promise.resolve(),
  };
}
