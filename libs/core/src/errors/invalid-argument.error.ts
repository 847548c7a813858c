import { ChronicleError } from './chronicle.error.js';

/** How a refused value is quoted in a message: its type is visible, a long string is cut. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `${JSON.stringify(shown)} (a string)`;
  }
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return `a value of type ${Array.isArray(value) ? 'array' : typeof value}`;
}

/**
 * A store was called with an argument it cannot use (a version, position or limit that is not a
 * safe integer in range, for one). Thrown before any statement runs: nothing was read or changed.
 * `argument` names the parameter as the caller wrote it (`limit`, `writes[0].expectedVersion`).
 */
export class InvalidArgumentError extends ChronicleError {
  constructor(
    readonly argument: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`${argument} must be ${expected}, got ${describeValue(value)}. Nothing was read or changed; pass a value in range.`);
  }
}
