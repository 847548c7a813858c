import { EntitySchema } from 'typeorm';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';
import { entityColumnKit } from './entity-column-kit.js';

/** A row of `<prefix>data_keys`: a subject's data key wrapped by a master key, or its tombstone once forgotten. */
export interface ChronicleDataKeyRow {
  subject: string;
  keyId: string;
  masterKeyId: string | null;
  wrappedKey: string | null;
  createdAt: Date;
  forgottenAt: Date | null;
}

/** The `<prefix>data_keys` table as a TypeORM entity (schema sync off: migrations own the DDL). */
export function createDataKeyEntity(options: ChronicleEntityOptions): EntitySchema<ChronicleDataKeyRow> {
  const kit = entityColumnKit(options);
  return new EntitySchema<ChronicleDataKeyRow>({
    name: kit.entityName('data_keys'),
    tableName: kit.tableName('data_keys'),
    schema: kit.schema,
    synchronize: false,
    columns: {
      subject: { type: 'text', primary: true },
      keyId: { name: 'key_id', type: 'text' },
      masterKeyId: { name: 'master_key_id', type: 'text', nullable: true },
      wrappedKey: { name: 'wrapped_key', type: 'text', nullable: true },
      createdAt: { name: 'created_at', type: kit.timestamp },
      forgottenAt: { name: 'forgotten_at', type: kit.timestamp, nullable: true },
    },
  });
}
