import { EntitySchema } from 'typeorm';
import type { OutboxEntry } from '@chronicle/core';
import type { StoredRecord } from './stored-record.js';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>outbox`: one event for one outbox handler: the port's `OutboxEntry` record with its table-only columns. */
export interface ChronicleOutboxRow extends StoredRecord<OutboxEntry> {
  createdAt: Date;
}

/**
 * The `<prefix>outbox` table as a TypeORM entity, for reading the outbox with TypeORM (dashboards,
 * admin tools). Change entries through the `OutboxStore` only: it keeps leases fenced and
 * per-aggregate order intact. Schema sync is off: migrations own the DDL.
 */
export function createOutboxEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleOutboxRow> {
  const kit = entityColumnKit(options);
  const nullableTimestamp = { type: kit.timestamp, nullable: true } as const;
  return new EntitySchema<ChronicleOutboxRow>({
    name: kit.entityName('outbox'),
    tableName: kit.tableName('outbox'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      id: { type: kit.uuid, primary: true },
      handler: { type: 'text' },
      aggregateType: { name: 'aggregate_type', type: 'text' },
      aggregateId: { name: 'aggregate_id', type: 'text' },
      streamId: { name: 'stream_id', type: 'text' },
      version: { type: 'integer' },
      eventId: { name: 'event_id', type: 'text' },
      eventType: { name: 'event_type', type: 'text' },
      schemaVersion: { name: 'schema_version', type: 'integer' },
      payload: { type: kit.json },
      metadata: { type: kit.json },
      occurredAt: { name: 'occurred_at', type: kit.timestamp },
      attempts: { type: 'integer', default: 0 },
      nextAttemptAt: { name: 'next_attempt_at', type: kit.timestamp },
      lastError: { name: 'last_error', type: 'text', nullable: true },
      leaseOwner: { name: 'lease_owner', type: 'text', nullable: true },
      leaseUntil: { name: 'lease_until', ...nullableTimestamp },
      publishedAt: { name: 'published_at', ...nullableTimestamp },
      deadLetteredAt: { name: 'dead_lettered_at', ...nullableTimestamp },
      createdAt: { name: 'created_at', type: kit.timestamp },
    },
  });
}
