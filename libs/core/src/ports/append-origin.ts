import { InvalidArgumentError } from '../errors/invalid-argument.error.js';
import type { AppendRequest } from './journal.port.js';

/** What an {@link AppendRequest.origin} may be: short, and plain enough for any notification payload. */
const ORIGIN_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Checks an append request's `origin` (absent, or 1–64 letters, digits, `-`, `_`, `.` or `:`) and
 * returns it. Every journal calls it before it writes anything, so a bad tag is refused by name
 * instead of reaching a notification payload.
 */
export function checkAppendOrigin(origin: unknown): string | undefined {
  if (origin === undefined) return undefined;
  if (typeof origin === 'string' && ORIGIN_PATTERN.test(origin)) return origin;
  throw new InvalidArgumentError('origin', origin, '1–64 letters, digits, "-", "_", "." or ":" (or no origin)');
}

/**
 * Units written together as one (a group commit's batch): their writes and command records in
 * order, and their origin when they all have the same one; otherwise none, so that the
 * notification of the batch wakes every listener. The condition, if any, is the caller's.
 */
export function combineAppendRequests(requests: readonly AppendRequest[]): AppendRequest {
  const origin = requests[0]?.origin;
  const shared = requests.every((request) => request.origin === origin) ? origin : undefined;
  return {
    writes: requests.flatMap((request) => request.writes),
    commands: requests.flatMap((request) => request.commands ?? []),
    ...(shared === undefined ? {} : { origin: shared }),
  };
}
