/** The databases Chronicle's TypeORM adapters speak. */
export type ChronicleDialectName = 'postgres' | 'sqlite';

/** How a unique violation is recognised: PostgreSQL names the constraint, SQLite the columns. */
export interface UniqueKey {
  /** The constraint or unique index name (PostgreSQL reports it). */
  constraint: string;
  /** The unquoted table name and its key columns (SQLite reports `table.col, table.col`). */
  table: string;
  columns: readonly string[];
}

/**
 * The small set of differences between PostgreSQL and SQLite that every adapter needs: how
 * parameters are written, how JSON, timestamps and 64-bit integers travel, and how a unique
 * violation looks. Statements that differ in shape live in per-adapter dialect objects.
 */
export interface SqlDialect {
  readonly name: ChronicleDialectName;
  /** Quotes an identifier, doubling embedded quotes. */
  quoteIdentifier(name: string): string;
  /** The placeholder of the `index`-th (1-based) parameter of a statement. */
  placeholder(index: number): string;
  /** A JSON value as a statement parameter (always a JSON text, so arrays are never turned into SQL arrays). */
  encodeJson(value: unknown): string;
  /** A stored JSON column back to a value; throws `SyntaxError` when SQLite text no longer parses. */
  decodeJson(raw: unknown): unknown;
  /** A timestamp as a statement parameter. */
  encodeTimestamp(date: Date): Date | string;
  /** A stored timestamp back to a Date. */
  decodeTimestamp(raw: unknown): Date;
  /** A stored integer (PostgreSQL returns int8 as a string) as a number. */
  decodeInteger(raw: unknown): number;
  /**
   * The largest value a version column holds (stream, event, snapshot, outbox, parked-event and
   * saga versions): no stream on this dialect can reach a higher version. Version arguments above
   * it are honoured by the adapters without binding them (a read past it is past the end); a
   * version to be stored above it is refused with `InvalidArgumentError`.
   */
  readonly maxStoredVersion: number;
  /** Why {@link maxStoredVersion} is the largest, for error messages. */
  readonly maxStoredVersionReason: string;
  /** SQL for the larger of two expressions. */
  greatest(a: string, b: string): string;
  /** Whether `error` is a violation of the given unique key (and not of another constraint). */
  isUniqueViolation(error: unknown, key: UniqueKey): boolean;
}
