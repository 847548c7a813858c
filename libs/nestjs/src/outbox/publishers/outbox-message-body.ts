import type { EventMetadata, JsonObject, OutboxMessage } from '@chronicle/core';

/**
 * What a broker message carries as its JSON body: the event as stored, with enough context for a
 * consumer that never sees the message properties (`id` is the event id; consumers that need the
 * outbox entry id read it from the transport's message id).
 */
export interface OutboxMessageBody {
  /** The event id. */
  id: string;
  /** The stable event type name. */
  type: string;
  /** The aggregate's name, from `@Aggregate({ name })`. */
  aggregateType: string;
  aggregateId: string;
  /** The event's version in its stream: consumers check it to keep per-aggregate order. */
  version: number;
  /** Schema version of `payload` (as stored, not upcast). */
  schemaVersion: number;
  /** The payload as stored. */
  payload: JsonObject;
  /** Command, correlation and causation ids, and whatever the application added. */
  metadata: EventMetadata;
  /** ISO-8601 instant. */
  occurredAt: string;
}

/** Builds the body of an outbox message; throws when `occurredAt` is not a valid date. */
export function toOutboxMessageBody(message: OutboxMessage): OutboxMessageBody {
  return {
    id: message.eventId,
    type: message.eventType,
    aggregateType: message.aggregateType,
    aggregateId: message.aggregateId,
    version: message.version,
    schemaVersion: message.schemaVersion,
    payload: message.payload,
    metadata: message.metadata,
    occurredAt: message.occurredAt.toISOString(),
  };
}
