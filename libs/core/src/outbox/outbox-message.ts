import type { EventMetadata } from '../events/event-metadata.js';
import type { JsonObject } from '../events/json.js';
import type { TraceContextCarrier } from '../telemetry/trace-context.js';

/** An outbox entry as a publisher receives it: the stored payload parsed and the event decoded. */
export interface OutboxMessage<E extends object = object> {
  /** The entry id (UUIDv7): publish it as the message id so consumers can dedupe. */
  id: string;
  handler: string;
  aggregateType: string;
  aggregateId: string;
  streamId: string;
  version: number;
  eventId: string;
  /** The stable event type name (the default routing key). */
  eventType: string;
  schemaVersion: number;
  /** The payload as stored (JSON), at its stored schema version. */
  payload: JsonObject;
  /** The event decoded into its class (upcast to the current schema version). */
  event: E;
  metadata: EventMetadata;
  occurredAt: Date;
  /** Failed attempts before this one. */
  attempts: number;
  /**
   * The trace context to put on the broker message: the relay's PRODUCER span for it when telemetry
   * is on (a child of the context stored with the event). Publishers read it with `outboxTraceHeaders`,
   * which falls back to the stored `metadata.traceparent`.
   */
  traceContext?: TraceContextCarrier;
}
