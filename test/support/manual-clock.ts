import type { Clock } from '@chronicle/core';

/** A clock that stands still until a test moves it: leases, backoff and expiry become exact. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
}

/** A manual clock starting at `start` (a fixed instant by default). */
export function manualClock(start: Date = new Date(Date.UTC(2025, 0, 1, 12, 0, 0, 0))): ManualClock {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
  };
}
