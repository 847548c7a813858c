import { ChronicleError } from '@chronicle/core';

/**
 * The error for a feed cursor this journal did not make. Core has no dedicated class for it, so
 * it is a plain ChronicleError with a stable code.
 */
export function invalidFeedCursor(cursor: string, expected: string): ChronicleError {
  return new ChronicleError(
    `Feed cursor "${cursor}" was not made by this journal (expected ${expected}); ` +
      'pass null to read from the start, or a cursor this journal returned.',
    { code: 'InvalidFeedCursor' },
  );
}
