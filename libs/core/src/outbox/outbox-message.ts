import type { JsonObject } from '../events/json.js';
import type { OutboxEntry } from '../ports/outbox-store.port.js';
import type { TraceContextCarrier } from '../telemetry/trace-context.js';

/**
 * An outbox entry as a publisher receives it: the {@link OutboxEntry} (one record, the store's
 * bookkeeping of retries and leases left out of the type) with its payload parsed and the event
 * decoded.
 */
export interface OutboxMessage<E extends object = object>
  extends Omit<OutboxEntry, 'payload' | 'nextAttemptAt' | 'lastError' | 'leaseOwner' | 'leaseUntil' | 'publishedAt' | 'deadLetteredAt'> {
  /** The payload as stored (JSON), at its stored schema version. */
  payload: JsonObject;
  /** The event decoded into its class (upcast to the current schema version). */
  event: E;
  /**
   * The trace context to put on the broker message: the relay's PRODUCER span for it when telemetry
   * is on (a child of the context stored with the event). Publishers read it with `outboxTraceHeaders`,
   * which falls back to the stored `metadata.traceparent`.
   */
  traceContext?: TraceContextCarrier;
}
