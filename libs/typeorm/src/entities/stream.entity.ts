import { EntitySchema } from 'typeorm';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>streams`: one per stream, its version and logical deletion mark. */
export interface ChronicleStreamRow {
  id: string;
  aggregateType: string;
  version: number;
  deletedUpTo: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The `<prefix>streams` table as a TypeORM entity (schema sync off: migrations own the DDL). */
export function createStreamEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleStreamRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleStreamRow>({
    name: kit.entityName('streams'),
    tableName: kit.tableName('streams'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      id: { type: 'text', primary: true },
      aggregateType: { name: 'aggregate_type', type: 'text' },
      version: { type: 'integer' },
      deletedUpTo: { name: 'deleted_up_to', type: 'integer', default: 0 },
      createdAt: { name: 'created_at', type: kit.timestamp },
      updatedAt: { name: 'updated_at', type: kit.timestamp },
    },
  });
}
