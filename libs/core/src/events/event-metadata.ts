import type { JsonValue } from './json.js';

/**
 * Facts about why an event was written, stored beside its payload. The gateway fills the
 * well-known keys from the command's metadata; applications may add their own.
 */
export interface EventMetadata {
  /** Id of the command that produced the event (its idempotency key). */
  commandId?: string;
  /** Id shared by everything one business transaction caused. */
  correlationId?: string;
  /** Id of the message (command or event) that directly caused this one. */
  causationId?: string;
  /** The stream version the command expected, when it named one. */
  expectedVersion?: number;
  [key: string]: JsonValue | undefined;
}
