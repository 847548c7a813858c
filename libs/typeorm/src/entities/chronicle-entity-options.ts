import type { ChronicleTableOptions } from '../table-options.js';

/** Options of the entity factories: where the tables are and which driver maps them. */
export interface ChronicleEntityOptions extends ChronicleTableOptions {
  /** The DataSource's driver, which decides the column types. */
  type: 'postgres' | 'better-sqlite3';
}
