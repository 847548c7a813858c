import { ChronicleError } from './chronicle.error.js';

/**
 * An outbox publisher's destination cannot be reached (no connection, the connection was lost).
 * The relay does not count this as a failed attempt: it gives the entries back and pauses the
 * handler with backoff, so a long broker outage delays messages but never dead-letters them.
 */
export class PublisherUnavailableError extends ChronicleError {}
