import type { ChronicleTableOptions } from '../table-options.js';

/** Options of the entity factories: where the tables are and which driver maps them. */
export interface ChronicleEntityOptions extends ChronicleTableOptions {
  /**
   * The DataSource's driver, to declare each column with that database's exact type (and to drop
   * `schema` on SQLite). Omitted, the entities declare types both drivers accept and read alike
   * (`jsonb`, `bigint`, `uuid`, dates), so the same entities map onto whichever DataSource they
   * are registered with; `schema` is then used as given (leave it unset on SQLite).
   * @default undefined (any driver)
   */
  type?: 'postgres' | 'better-sqlite3';
}
