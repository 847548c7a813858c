import type { SqlDialect, UniqueKey } from './sql-dialect.js';
import { driverErrorOf } from './driver-error.js';

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/**
 * Formats a Date the way TypeORM stores a SQLite `datetime` (UTC, `YYYY-MM-DD HH:MM:SS.SSS`):
 * it sorts as text in time order, SQLite's date functions read it, and entities hydrate it.
 */
function formatSqliteTimestamp(date: Date): string {
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`
  );
}

/** SQLite through better-sqlite3: `?` parameters, JSON as text, timestamps as UTC text. */
export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  quoteIdentifier: (name) => `"${name.replace(/"/g, '""')}"`,
  // better-sqlite3 binds an array positionally and does not accept numbered `?NNN` with it.
  placeholder: () => '?',
  encodeJson: (value) => JSON.stringify(value),
  decodeJson: (raw) => (typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw),
  encodeTimestamp: formatSqliteTimestamp,
  decodeTimestamp(raw: unknown): Date {
    if (raw instanceof Date) return raw;
    if (typeof raw === 'number') return new Date(raw);
    const text = String(raw);
    // Stored as UTC without a zone marker; without the `Z` JavaScript would read local time.
    return new Date(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
  },
  decodeInteger: (raw) => (typeof raw === 'number' ? raw : Number(raw)),
  // SQLite integers are 64-bit: every safe integer fits.
  maxStoredVersion: Number.MAX_SAFE_INTEGER,
  maxStoredVersionReason: 'the largest safe integer',
  greatest: (a, b) => `max(${a}, ${b})`,
  isUniqueViolation(error: unknown, key: UniqueKey): boolean {
    const driverError = driverErrorOf(error);
    const code = driverError?.code;
    if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
    const message = typeof driverError?.message === 'string' ? driverError.message : '';
    const columns = key.columns.map((column) => `${key.table}.${column}`).join(', ');
    return message.endsWith(`constraint failed: ${columns}`);
  },
};
