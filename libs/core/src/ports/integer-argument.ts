import { InvalidArgumentError } from '../errors/invalid-argument.error.js';

/**
 * Checks a version, position or limit passed to a store, the same way in every store and on every
 * dialect: a number that is a safe integer (so it survives JSON, the drivers and arithmetic
 * exactly) from `minimum` to `maximum`. Anything else (a string, NaN, a fraction, a negative
 * count, a value past `Number.MAX_SAFE_INTEGER`) throws `InvalidArgumentError` naming `argument`
 * and the value, before the store runs any statement. Returns the value.
 *
 * Stores call it once per call argument, not per event on the append path, so it costs nothing
 * measurable.
 *
 * @param maximum the largest value the store can honour. @default Number.MAX_SAFE_INTEGER
 * @param maximumReason why `maximum` is the largest, for the message (a column's range).
 */
export function checkIntegerArgument(
  argument: string,
  value: unknown,
  minimum: number,
  maximum = Number.MAX_SAFE_INTEGER,
  maximumReason?: string,
): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= minimum && value <= maximum) return value;
  const expected =
    maximum === Number.MAX_SAFE_INTEGER
      ? `a safe integer >= ${minimum} (at most Number.MAX_SAFE_INTEGER, ${maximum})`
      : `an integer from ${minimum} to ${maximum}${maximumReason === undefined ? '' : ` (${maximumReason})`}`;
  throw new InvalidArgumentError(argument, value, expected);
}
