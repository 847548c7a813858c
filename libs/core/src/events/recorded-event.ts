import type { EventMetadata } from './event-metadata.js';

/** A serialized event about to be appended. */
export interface NewEvent {
  /** Unique id of the event (consumers dedupe on it). */
  eventId: string;
  /** The event's stable type name, from `@Event(name)`. */
  type: string;
  /** Schema version of the payload; upcasters bring older versions to the current one. */
  schemaVersion: number;
  /**
   * The payload: a JSON object when written; when read back, whatever the store holds (a
   * corrupt row can hold a string that no longer parses — the serializer reports it).
   */
  payload: unknown;
  metadata: EventMetadata;
  /** Free-form labels for querying the journal across streams. */
  tags: string[];
  occurredAt: Date;
}

/** An event as stored in the journal. */
export interface RecordedEvent extends NewEvent {
  streamId: string;
  aggregateType: string;
  /** 1-based, contiguous per stream. */
  version: number;
  /** Global position (unique, increasing in insertion order; not necessarily commit order). */
  position: number;
  /**
   * The feed cursor at this event, when the read that returned it knows it (feed reads and stream
   * reads do; an append's own result does not need it).
   */
  cursor?: string;
}
