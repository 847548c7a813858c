import { EntitySchema } from 'typeorm';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>inbox`: a message a consumer has processed. */
export interface ChronicleInboxRow {
  consumer: string;
  messageId: string;
  processedAt: Date;
}

/** The `<prefix>inbox` table as a TypeORM entity (schema sync off: migrations own the DDL). */
export function createInboxEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleInboxRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleInboxRow>({
    name: kit.entityName('inbox'),
    tableName: kit.tableName('inbox'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      consumer: { type: 'text', primary: true },
      messageId: { name: 'message_id', type: 'text', primary: true },
      processedAt: { name: 'processed_at', type: kit.timestamp },
    },
  });
}
