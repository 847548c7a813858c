import { ChronicleError } from '@chronicle/core';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { SqlParameters } from '../dialects/sql-parameters.js';

/**
 * A value the one-round-trip conditional append cannot write into its SQL text as a literal: a
 * string with a NUL character (PostgreSQL text cannot hold one, and the simple protocol ends a
 * query string at the first NUL), a number that is not a safe integer, an invalid date, or a type
 * the statement never binds. Internal: the journal catches it and runs the unit with bound
 * parameters instead, where PostgreSQL itself refuses what it cannot store.
 */
export class UnsafeSqlLiteralError extends ChronicleError {
  constructor(readonly reason: string) {
    super(`Cannot write this value as a PostgreSQL literal: ${reason}. Send it as a bound parameter instead.`);
  }
}

/**
 * A string as a PostgreSQL string literal, the way libpq's `PQescapeLiteral` and node-postgres's
 * `escapeLiteral` write it: single quotes doubled; when the string holds a backslash, every
 * backslash doubled and the literal written in the escape-string syntax (`E'…'`), which reads the
 * same whatever `standard_conforming_strings` says. Nothing in the string can end the literal.
 */
export function escapePostgresString(text: string): string {
  if (text.includes('\0')) throw new UnsafeSqlLiteralError('a string holds a NUL character (\\0), which PostgreSQL text cannot store');
  const quoted = text.replace(/'/g, "''");
  if (!text.includes('\\')) return `'${quoted}'`;
  return ` E'${quoted.replace(/\\/g, '\\\\')}'`;
}

/** An array element as node-postgres writes it in an array parameter's text: double-quoted, `\` and `"` backslash-escaped. */
function arrayElement(value: unknown, literal: boolean): string {
  if (value === null || value === undefined) return 'NULL';
  const text = scalarText(value, literal);
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** An array as node-postgres writes an array parameter's text (`{"a","b",NULL}`); see {@link scalarText} for `literal`. */
function arrayText(value: readonly unknown[], literal: boolean): string {
  const elements = value.map((element) => {
    if (Array.isArray(element)) throw new UnsafeSqlLiteralError('a nested array');
    return arrayElement(element, literal);
  });
  return `{${elements.join(',')}}`;
}

/**
 * The text node-postgres would send for a scalar parameter. For a `literal`, a string with a NUL
 * is refused here (the simple protocol ends a query string at the first NUL); a bound parameter
 * carries it, and PostgreSQL refuses it as it refuses it in a plain append.
 */
function scalarText(value: unknown, literal = true): string {
  if (typeof value === 'string') {
    if (literal && value.includes('\0')) throw new UnsafeSqlLiteralError('a string holds a NUL character (\\0), which PostgreSQL text cannot store');
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new UnsafeSqlLiteralError(`the number ${String(value)} is not a safe integer`);
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new UnsafeSqlLiteralError('an invalid Date');
    // toISOString writes other years as +010000 or -000001, which PostgreSQL does not read (node-postgres writes BC).
    const year = value.getUTCFullYear();
    if (year < 1 || year > 9999) throw new UnsafeSqlLiteralError(`a Date in the year ${year}, outside 1 to 9999`);
    return value.toISOString();
  }
  throw new UnsafeSqlLiteralError(`a value of type ${Array.isArray(value) ? 'nested array' : typeof value}`);
}

/**
 * A value as a PostgreSQL literal that reads as the value node-postgres would bind for it:
 * - a string: a string literal ({@link escapePostgresString}), of type unknown like an untyped
 *   parameter; every string the append statement binds is cast explicitly (`::text[]`, `::xid8`,
 *   `::jsonb`) or used where only text fits (`pg_notify`);
 * - an array: the text of node-postgres's array parameter (`{"a","b"}`, elements escaped as
 *   array_in reads them), as one string literal; the statement casts every array explicitly;
 * - a Date: its ISO 8601 text (UTC) cast `::timestamptz`, so it is a timestamp even in a select list;
 * - a safe integer or bigint: a numeric constant (in parentheses when negative); a boolean: `true`/`false`;
 * - null or undefined: `NULL`.
 * Anything else, and any string with a NUL, throws {@link UnsafeSqlLiteralError}.
 */
export function postgresLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return escapePostgresString(arrayText(value, true));
  if (typeof value === 'string') return escapePostgresString(value);
  if (value instanceof Date) return `${escapePostgresString(scalarText(value))}::timestamptz`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const text = scalarText(value);
  return text.startsWith('-') ? `(${text})` : text;
}

/**
 * Parameters written into the statement as literals ({@link postgresLiteral}) instead of bound:
 * a statement without parameters can share one simple-protocol query string with BEGIN, the
 * decision locks and COMMIT (see `postgres-decision-locks`). `values` stays empty.
 */
export class InlineSqlParameters extends SqlParameters {
  constructor() {
    super(postgresDialect);
  }

  /** The value's literal; throws {@link UnsafeSqlLiteralError} for what cannot be one. */
  override add(value: unknown): string {
    return postgresLiteral(value);
  }
}

/**
 * A value as the text of a bound parameter, as node-postgres would send it (its `prepareValue`,
 * which the package does not export): null for null or undefined, an array as array text, a Date
 * of the years 1 to 9999 as ISO 8601 (UTC; node-postgres writes local time with its offset, the
 * same instant), a safe integer, bigint or boolean as its text, a string as itself. For statements
 * bound by hand on the wire (see `postgres-pipelined-append`); anything else throws
 * {@link UnsafeSqlLiteralError}, and the caller sends the statement through node-postgres instead.
 */
export function postgresParameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return arrayText(value, false);
  return scalarText(value, false);
}
