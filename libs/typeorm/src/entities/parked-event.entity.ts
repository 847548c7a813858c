import { EntitySchema } from 'typeorm';
import type { ParkedEvent } from '@chronicle/core';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>parked_events`: an event a subscription set aside: the port's `ParkedEvent` record. */
export type ChronicleParkedEventRow = ParkedEvent;

/** The `<prefix>parked_events` table as a TypeORM entity (schema sync off: migrations own the DDL). */
export function createParkedEventEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleParkedEventRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleParkedEventRow>({
    name: kit.entityName('parked_events'),
    tableName: kit.tableName('parked_events'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      subscription: { type: 'text', primary: true },
      eventId: { name: 'event_id', type: 'text', primary: true },
      streamId: { name: 'stream_id', type: 'text' },
      version: { type: 'integer' },
      position: { type: kit.bigint, transformer: kit.bigintTransformer },
      type: { type: 'text' },
      reason: { type: 'text' },
      error: { type: 'text', nullable: true },
      attempts: { type: 'integer' },
      parkedAt: { name: 'parked_at', type: kit.timestamp },
      redriveRequestedAt: { name: 'redrive_requested_at', type: kit.timestamp, nullable: true },
    },
  });
}
