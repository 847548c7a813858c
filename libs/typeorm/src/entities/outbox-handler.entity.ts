import { EntitySchema } from 'typeorm';
import type { OutboxHandlerState } from '@chronicle/core';
import type { StoredRecord } from './stored-record.js';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>outbox_handlers`: an outbox handler's registration and backfill state: the port's `OutboxHandlerState` record. */
export type ChronicleOutboxHandlerRow = StoredRecord<OutboxHandlerState>;

/** The `<prefix>outbox_handlers` table as a TypeORM entity (schema sync off: migrations own the DDL). */
export function createOutboxHandlerEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleOutboxHandlerRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleOutboxHandlerRow>({
    name: kit.entityName('outbox_handlers'),
    tableName: kit.tableName('outbox_handlers'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      handler: { type: 'text', primary: true },
      startFrom: { name: 'start_from', type: 'text' },
      backfillCursor: { name: 'backfill_cursor', type: 'text', nullable: true },
      readyAt: { name: 'ready_at', type: kit.timestamp, nullable: true },
      registeredAt: { name: 'registered_at', type: kit.timestamp },
    },
  });
}
