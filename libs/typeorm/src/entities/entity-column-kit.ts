import type { ColumnType, ValueTransformer } from 'typeorm';
import { DEFAULT_TABLE_PREFIX } from '../table-options.js';
import type { ChronicleEntityOptions } from './chronicle-entity-options.js';

/** Column types and naming shared by the entity factories (internal to the entities). */
export interface EntityColumnKit {
  schema: string | undefined;
  tableName(base: string): string;
  /** A unique entity name per table, so two prefixes can share one DataSource. */
  entityName(base: string): string;
  json: ColumnType;
  timestamp: ColumnType;
  bigint: ColumnType;
  uuid: ColumnType;
  /** int8 arrives from `pg` as a string; the entities expose numbers like the adapters do. */
  bigintTransformer: ValueTransformer;
}

/** Resolves entity options into the column kit for one driver. */
export function entityColumnKit(options: ChronicleEntityOptions): EntityColumnKit {
  const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  const postgres = options.type === 'postgres';
  // Without a driver the types are ones both accept: TypeORM checks them against the driver when
  // the DataSource starts, and hydrates these alike on both (the schema has no sync).
  const anyDriver = options.type === undefined;
  const schema = postgres || anyDriver ? options.schema : undefined;
  return {
    schema,
    tableName: (base) => `${prefix}${base}`,
    entityName: (base) => (schema === undefined ? `${prefix}${base}` : `${schema}.${prefix}${base}`),
    json: postgres || anyDriver ? 'jsonb' : 'json',
    timestamp: postgres ? 'timestamptz' : anyDriver ? Date : 'datetime',
    bigint: postgres || anyDriver ? 'bigint' : 'integer',
    uuid: postgres || anyDriver ? 'uuid' : 'text',
    bigintTransformer: {
      to: (value: unknown) => value,
      from: (value: unknown) => (value === null || value === undefined ? value : Number(value)),
    },
  };
}
