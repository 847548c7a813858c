import { ChronicleError } from './chronicle.error.js';

/** A read-your-writes wait ended before the subscription had passed the awaited position. */
export class ProjectionWaitTimeoutError extends ChronicleError {
  constructor(
    readonly subscription: string,
    readonly awaited: string,
    readonly reached: string | null,
    readonly timeoutMs: number,
  ) {
    super(
      `"${subscription}" had not caught up with position ${awaited} after ${timeoutMs} ms (it is at ${reached ?? 'the start'}); ` +
        'retry the read later, or read without waiting.',
    );
  }
}
