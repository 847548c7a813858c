import { EntitySchema } from 'typeorm';
import type { CommandRecord } from '@chronicle/core';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>commands`: a command id's idempotency record: the port's `CommandRecord`. */
export type ChronicleCommandRow = CommandRecord;

/** The `<prefix>commands` table as a TypeORM entity (schema sync off: migrations own the DDL). */
export function createCommandEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleCommandRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleCommandRow>({
    name: kit.entityName('commands'),
    tableName: kit.tableName('commands'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      commandId: { name: 'command_id', type: 'text', primary: true },
      fingerprint: { type: 'text' },
      streamId: { name: 'stream_id', type: 'text' },
      aggregateType: { name: 'aggregate_type', type: 'text' },
      outcome: { type: kit.json },
      recordedAt: { name: 'recorded_at', type: kit.timestamp },
    },
  });
}
