import type { AggregateDefinition } from '../aggregates/aggregate-definition.js';
import type { EventSerializer } from '../events/event-serializer.js';
import type { JsonObject } from '../events/json.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { JournalStreams } from '../ports/journal.port.js';
import type { SnapshotStore } from '../ports/snapshot-store.port.js';

/** A hydrated aggregate and the stream version it reflects. */
export interface LoadedAggregate<T extends object = object> {
  aggregate: T;
  version: number;
}

/**
 * Rebuilds aggregates from the journal: the newest usable snapshot, then the events after it,
 * page by page. A snapshot of another schema version, or one that cannot be restored, is
 * skipped with a warning — snapshots are a cache, the journal is the truth.
 */
export class AggregateLoader {
  constructor(
    private readonly journal: JournalStreams,
    private readonly snapshots: SnapshotStore | undefined,
    private readonly serializer: EventSerializer,
    private readonly logger: ChronicleLogger,
    private readonly pageSize: number,
  ) {}

  /** Loads a stream's aggregate, optionally as it was at `atVersion`. */
  async load<T extends object>(definition: AggregateDefinition<T>, streamId: string, atVersion?: number): Promise<LoadedAggregate<T>> {
    const info = await this.journal.streamInfo(streamId);
    if (!info) return { aggregate: definition.create(), version: 0 };
    const start = await this.fromSnapshot(definition, streamId, atVersion);
    const aggregate = start?.aggregate ?? definition.create();
    const replayed = await this.replay(definition, aggregate, streamId, start?.version ?? 0, atVersion);
    // After a logical deletion the highest version can be above the last readable event.
    const version = atVersion === undefined ? Math.max(info.version, replayed) : replayed;
    return { aggregate, version };
  }

  /** Applies the events after `afterVersion` (up to `toVersion`); returns the last version applied. */
  async replay<T extends object>(
    definition: AggregateDefinition<T>,
    aggregate: T,
    streamId: string,
    afterVersion: number,
    toVersion?: number,
  ): Promise<number> {
    let last = afterVersion;
    for (;;) {
      const page = await this.journal.readStream(streamId, { fromVersion: last + 1, toVersion, limit: this.pageSize });
      for (const stored of page) {
        definition.apply(aggregate, this.serializer.deserialize(stored));
        last = stored.version;
      }
      if (page.length < this.pageSize) return last;
    }
  }

  private async fromSnapshot<T extends object>(
    definition: AggregateDefinition<T>,
    streamId: string,
    atVersion: number | undefined,
  ): Promise<LoadedAggregate<T> | undefined> {
    const policy = definition.snapshot;
    if (!policy || !this.snapshots) return undefined;
    let snapshot;
    try {
      snapshot = await this.snapshots.load(streamId, atVersion === undefined ? undefined : { maxVersion: atVersion });
    } catch (error) {
      this.logger.warn(`Loading the snapshot of "${streamId}" failed (${(error as Error).message}); replaying all events.`);
      return undefined;
    }
    if (!snapshot) return undefined;
    if (snapshot.schemaVersion !== policy.version) {
      this.logger.warn(
        `Snapshot of "${streamId}" at version ${snapshot.version} has schema version ${snapshot.schemaVersion}, ` +
          `the aggregate's is ${policy.version}; replaying all events.`,
      );
      return undefined;
    }
    try {
      let state = snapshot.state;
      if (typeof state === 'string') state = JSON.parse(state) as unknown;
      if (state === null || typeof state !== 'object' || Array.isArray(state)) throw new Error('the stored state is not an object');
      return { aggregate: policy.restore(state as JsonObject), version: snapshot.version };
    } catch (error) {
      this.logger.warn(
        `Snapshot of "${streamId}" at version ${snapshot.version} cannot be restored (${(error as Error).message}); replaying all events.`,
      );
      return undefined;
    }
  }
}
