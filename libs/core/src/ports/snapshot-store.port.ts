import type { JsonObject } from '../events/json.js';

/** An aggregate's state at a version. */
export interface Snapshot {
  streamId: string;
  aggregateType: string;
  version: number;
  /** The aggregate's snapshot schema version; a snapshot of another version is not used. */
  schemaVersion: number;
  /** The state as stored (a JSON object when written; a corrupt row may hold anything). */
  state: JsonObject | unknown;
  takenAt: Date;
}

/**
 * Stores aggregate snapshots. Snapshots are a cache of the journal: losing one costs a longer
 * replay, never data, so saving happens after the command's commit and may fail harmlessly.
 *
 * `maxVersion` and `keep` take any safe integer (`keep` >= 1); a snapshot's version any the
 * store's columns hold (on PostgreSQL at most 2^31 - 1, the highest version a stream reaches
 * there). Anything else fails with `InvalidArgumentError` before anything is read or written.
 */
export interface SnapshotStore {
  /** Saves a snapshot and keeps only the newest `keep` of its stream. */
  save(snapshot: Snapshot, keep: number): Promise<void>;
  /** The newest snapshot of a stream, optionally at or below a version. */
  load(streamId: string, options?: { maxVersion?: number }): Promise<Snapshot | undefined>;
  /** Removes every snapshot of a stream. */
  delete(streamId: string): Promise<void>;
}
