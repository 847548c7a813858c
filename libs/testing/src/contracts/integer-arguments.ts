import { expect } from './contract-runner.js';
import { InvalidArgumentError } from '@chronicle/core';

// Shared by the contract suites: the integers every store must take and the ones it must refuse.

/** The first value past a signed 32-bit column, and the largest safe integer. */
export const LARGE_INTEGERS = [2 ** 31, Number.MAX_SAFE_INTEGER] as const;

/**
 * Values no version, position or limit argument accepts: negative, fractional, not a number,
 * past `Number.MAX_SAFE_INTEGER`, a numeric string. Typed as numbers, as a caller from plain
 * JavaScript or a JSON body would pass them.
 */
export const BAD_INTEGERS: readonly number[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '7' as unknown as number];

/** Expects an `InvalidArgumentError` that names the argument and quotes the value. */
export function expectInvalidArgument(error: unknown, argument: string, value: unknown): void {
  expect(error).toBeInstanceOf(InvalidArgumentError);
  const refused = error as InvalidArgumentError;
  expect(refused.name).toBe('InvalidArgumentError');
  expect(refused.argument).toBe(argument);
  expect(refused.value).toBe(value);
  expect(refused.message).toContain(argument);
  expect(refused.message).toContain(typeof value === 'string' ? JSON.stringify(value) : String(value));
}
