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

const DIGIT_0 = 48;

/** The digits of `text` from `start` to `end` as a number, or NaN if one is not a digit. */
function digits(text: string, start: number, end: number): number {
  let value = 0;
  for (let index = start; index < end; index++) {
    const digit = text.charCodeAt(index) - DIGIT_0;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Epoch milliseconds of a timestamp in the exact form {@link formatSqliteTimestamp} writes, or
 * NaN for any other text. The feed decodes one per event: this is several times faster than
 * rewriting the text and handing it to `Date`'s parser.
 */
function parseSqliteTimestamp(text: string): number {
  if (text.length !== 23 || text[4] !== '-' || text[7] !== '-' || text[10] !== ' ' || text[13] !== ':' || text[16] !== ':' || text[19] !== '.') return Number.NaN;
  const year = digits(text, 0, 4);
  // Date.UTC reads years 0–99 as 1900–1999: leave those to the general parser.
  if (!(year >= 100)) return Number.NaN;
  return Date.UTC(
    year,
    digits(text, 5, 7) - 1,
    digits(text, 8, 10),
    digits(text, 11, 13),
    digits(text, 14, 16),
    digits(text, 17, 19),
    digits(text, 20, 23),
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
    const epochMs = parseSqliteTimestamp(text);
    if (!Number.isNaN(epochMs)) return new Date(epochMs);
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
