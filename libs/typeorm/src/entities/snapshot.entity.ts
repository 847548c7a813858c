import { EntitySchema } from 'typeorm';
import type { Snapshot } from '@chronicle/core';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>snapshots`: an aggregate's state at a version: the port's `Snapshot` record. */
export type ChronicleSnapshotRow = Snapshot;

/** The `<prefix>snapshots` table as a TypeORM entity (schema sync off: migrations own the DDL). */
export function createSnapshotEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleSnapshotRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleSnapshotRow>({
    name: kit.entityName('snapshots'),
    tableName: kit.tableName('snapshots'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      streamId: { name: 'stream_id', type: 'text', primary: true },
      version: { type: 'integer', primary: true },
      aggregateType: { name: 'aggregate_type', type: 'text' },
      schemaVersion: { name: 'schema_version', type: 'integer' },
      state: { type: kit.json },
      takenAt: { name: 'taken_at', type: kit.timestamp },
    },
  });
}
