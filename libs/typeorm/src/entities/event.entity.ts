import { EntitySchema } from 'typeorm';
import type { RecordedEvent } from '@chronicle/core';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>events`: one recorded event: the port's `RecordedEvent` record. */
export type ChronicleEventRow = Omit<RecordedEvent, 'cursor'>;

/**
 * The `<prefix>events` table as a TypeORM entity, for reading the journal with TypeORM.
 * Append through the journal, never through this entity: only the journal keeps streams,
 * versions and the feed consistent. The PostgreSQL `tx_id` column is left out on purpose
 * (TypeORM has no xid8 type; the database fills it), which is safe because schema sync is off.
 */
export function createEventEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleEventRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleEventRow>({
    name: kit.entityName('events'),
    tableName: kit.tableName('events'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      position: { type: kit.bigint, primary: true, generated: 'increment', transformer: kit.bigintTransformer },
      streamId: { name: 'stream_id', type: 'text' },
      version: { type: 'integer' },
      aggregateType: { name: 'aggregate_type', type: 'text' },
      eventId: { name: 'event_id', type: 'text', unique: true },
      type: { type: 'text' },
      schemaVersion: { name: 'schema_version', type: 'integer' },
      payload: { type: kit.json },
      metadata: { type: kit.json },
      tags: { type: kit.json },
      occurredAt: { name: 'occurred_at', type: kit.timestamp },
    },
  });
}
