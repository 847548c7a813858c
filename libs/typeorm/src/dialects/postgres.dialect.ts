import type { SqlDialect, UniqueKey } from './sql-dialect.js';
import { driverErrorOf } from './driver-error.js';

/** PostgreSQL: `$n` parameters, jsonb, timestamptz, int8 as strings from `pg`. */
export const postgresDialect: SqlDialect = {
  name: 'postgres',
  quoteIdentifier: (name) => `"${name.replace(/"/g, '""')}"`,
  placeholder: (index) => `$${index}`,
  encodeJson: (value) => JSON.stringify(value),
  // `pg` parses json/jsonb itself; a string here is a JSON string value, not JSON text.
  decodeJson: (raw) => raw,
  encodeTimestamp: (date) => date,
  // Dates from timestamptz columns, or epoch milliseconds where a read selected them as float8.
  decodeTimestamp: (raw) => (raw instanceof Date ? raw : typeof raw === 'number' ? new Date(raw) : new Date(String(raw))),
  decodeInteger: (raw) => (typeof raw === 'number' ? raw : Number(raw)),
  // Version columns are int4 and stay int4: widening them would rewrite the events table (and its
  // unique index) under an exclusive lock on every existing install, to lift a limit of 2^31 - 1
  // events in ONE stream that no aggregate comes near. Positions, which count every event of the
  // journal, are int8 already. So versions are capped here, and the adapters keep version
  // arguments past the cap out of SQL (binding one to an int4 parameter fails with "out of range").
  maxStoredVersion: 2_147_483_647,
  maxStoredVersionReason: 'the highest version a PostgreSQL journal stores, an int4 column',
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  isUniqueViolation(error: unknown, key: UniqueKey): boolean {
    const driverError = driverErrorOf(error);
    return driverError?.code === '23505' && driverError.constraint === key.constraint;
  },
};
