import { ConfigurationError } from '@chronicle/core';
import type { SqlDialect } from './dialects/sql-dialect.js';

/** Where Chronicle's tables live, so the library can sit beside the application's own tables. */
export interface ChronicleTableOptions {
  /** PostgreSQL schema of the tables (ignored on SQLite). @default the connection's search_path */
  schema?: string;
  /** Prefix of every table, index and constraint name. @default 'chronicle_' */
  tablePrefix?: string;
}

/** The prefix used when none is configured. */
export const DEFAULT_TABLE_PREFIX = 'chronicle_';

/** The table names Chronicle uses, resolved for one dialect. */
export interface ChronicleTables {
  /** The schema, on PostgreSQL when one is configured. */
  schema: string | undefined;
  prefix: string;
  /** Unquoted name of a table (`<prefix><base>`), as used in constraint and index names. */
  name(base: string): string;
  /** Quoted, schema-qualified name of a table, ready to go into SQL. */
  qualified(base: string): string;
  /** Quoted name of an index or constraint (`<prefix><base>`, never schema-qualified). */
  objectName(base: string): string;
  streams: string;
  events: string;
  commands: string;
  snapshots: string;
  outbox: string;
  outboxHandlers: string;
  inbox: string;
  /** Subscription checkpoints and leases. */
  checkpoints: string;
  /** Events subscriptions set aside. */
  parkedEvents: string;
  /** Saga instances. */
  sagaStates: string;
  /** Saga timeouts. */
  sagaDeadlines: string;
  /** The data keys of crypto-shredding, wrapped by the master key. */
  dataKeys: string;
  migrations: string;
}

// PostgreSQL truncates identifiers at 63 bytes; the longest suffix Chronicle adds is about 30.
const MAX_PREFIX_LENGTH = 30;

/**
 * Resolves the configured schema and prefix into quoted, escaped table names. Throws
 * `ConfigurationError` for a prefix that would make invalid or truncated identifiers.
 */
export function resolveChronicleTables(options: ChronicleTableOptions | undefined, dialect: SqlDialect): ChronicleTables {
  const prefix = options?.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  if (!/^[A-Za-z0-9_]*$/.test(prefix) || prefix.length > MAX_PREFIX_LENGTH) {
    throw new ConfigurationError(
      `tablePrefix "${prefix}" is not usable: use at most ${MAX_PREFIX_LENGTH} letters, digits or underscores.`,
    );
  }
  if (options?.schema !== undefined && options.schema.length === 0) {
    throw new ConfigurationError('schema "" is not usable: leave it undefined to use the search_path, or name a schema.');
  }
  const schema = dialect.name === 'postgres' ? options?.schema : undefined;
  const name = (base: string): string => `${prefix}${base}`;
  const qualified = (base: string): string =>
    schema === undefined
      ? dialect.quoteIdentifier(name(base))
      : `${dialect.quoteIdentifier(schema)}.${dialect.quoteIdentifier(name(base))}`;
  return {
    schema,
    prefix,
    name,
    qualified,
    objectName: (base) => dialect.quoteIdentifier(name(base)),
    streams: qualified('streams'),
    events: qualified('events'),
    commands: qualified('commands'),
    snapshots: qualified('snapshots'),
    outbox: qualified('outbox'),
    outboxHandlers: qualified('outbox_handlers'),
    inbox: qualified('inbox'),
    checkpoints: qualified('checkpoints'),
    parkedEvents: qualified('parked_events'),
    sagaStates: qualified('saga_states'),
    sagaDeadlines: qualified('saga_deadlines'),
    dataKeys: qualified('data_keys'),
    migrations: qualified('migrations'),
  };
}
