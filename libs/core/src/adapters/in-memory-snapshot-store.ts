import { checkIntegerArgument } from '../ports/integer-argument.js';
import type { Snapshot, SnapshotStore } from '../ports/snapshot-store.port.js';

/** A snapshot as kept in memory: state as JSON text, so no caller can reach the stored object. */
interface StoredSnapshot {
  readonly streamId: string;
  readonly aggregateType: string;
  readonly version: number;
  readonly schemaVersion: number;
  readonly state: string | undefined;
  readonly takenAt: number;
}

/**
 * Snapshots in process memory, for unit tests and the demo without a database. Each stream keeps
 * its newest `keep` snapshots by version; saving a version again replaces it.
 */
export class InMemorySnapshotStore implements SnapshotStore {
  /** Per stream, ascending by version. */
  private readonly streams = new Map<string, StoredSnapshot[]>();

  async save(snapshot: Snapshot, keep: number): Promise<void> {
    // keep >= 1: the snapshot being saved counts.
    checkIntegerArgument('keep', keep, 1);
    checkIntegerArgument('snapshot.version', snapshot.version, 0);
    checkIntegerArgument('snapshot.schemaVersion', snapshot.schemaVersion, 0);
    const takenAt = snapshot.takenAt instanceof Date ? snapshot.takenAt.getTime() : Number.NaN;
    if (Number.isNaN(takenAt)) {
      throw new TypeError(`The snapshot of stream "${snapshot.streamId}" needs takenAt as a valid Date.`);
    }
    const stored: StoredSnapshot = {
      streamId: snapshot.streamId,
      aggregateType: snapshot.aggregateType,
      version: snapshot.version,
      schemaVersion: snapshot.schemaVersion,
      state: JSON.stringify(snapshot.state),
      takenAt,
    };
    const kept = (this.streams.get(snapshot.streamId) ?? []).filter((existing) => existing.version !== stored.version);
    kept.push(stored);
    kept.sort((left, right) => left.version - right.version);
    this.streams.set(snapshot.streamId, kept.slice(-keep));
  }

  async load(streamId: string, options: { maxVersion?: number } = {}): Promise<Snapshot | undefined> {
    const maxVersion = options.maxVersion === undefined ? Number.POSITIVE_INFINITY : checkIntegerArgument('maxVersion', options.maxVersion, 0);
    const snapshots = this.streams.get(streamId) ?? [];
    for (let index = snapshots.length - 1; index >= 0; index--) {
      const stored = snapshots[index];
      if (stored !== undefined && stored.version <= maxVersion) return decode(stored);
    }
    return undefined;
  }

  async delete(streamId: string): Promise<void> {
    this.streams.delete(streamId);
  }
}

function decode(stored: StoredSnapshot): Snapshot {
  return {
    streamId: stored.streamId,
    aggregateType: stored.aggregateType,
    version: stored.version,
    schemaVersion: stored.schemaVersion,
    state: stored.state === undefined ? undefined : (JSON.parse(stored.state) as unknown),
    takenAt: new Date(stored.takenAt),
  };
}
