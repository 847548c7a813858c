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
  /** int8 arrives from `pg` as a string; the entities expose numbers like the adapters do. */
  bigintTransformer: ValueTransformer;
}

/** Resolves entity options into the column kit for one driver. */
export function entityColumnKit(options: ChronicleEntityOptions): EntityColumnKit {
  const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  const postgres = options.type === 'postgres';
  const schema = postgres ? options.schema : undefined;
  return {
    schema,
    tableName: (base) => `${prefix}${base}`,
    entityName: (base) => (schema === undefined ? `${prefix}${base}` : `${schema}.${prefix}${base}`),
    json: postgres ? 'jsonb' : 'json',
    timestamp: postgres ? 'timestamptz' : 'datetime',
    bigint: postgres ? 'bigint' : 'integer',
    bigintTransformer: {
      to: (value: unknown) => value,
      from: (value: unknown) => (value === null || value === undefined ? value : Number(value)),
    },
  };
}
