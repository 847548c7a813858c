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
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  isUniqueViolation(error: unknown, key: UniqueKey): boolean {
    const driverError = driverErrorOf(error);
    return driverError?.code === '23505' && driverError.constraint === key.constraint;
  },
};
