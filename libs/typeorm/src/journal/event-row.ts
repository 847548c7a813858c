import { EventDecodingError } from '@chronicle/core';
import type { EventMetadata, RecordedEvent } from '@chronicle/core';
import type { SqlDialect } from '../dialects/sql-dialect.js';

/** The event columns every journal read selects, in the shape {@link EventRow} names them. */
export const EVENT_COLUMNS =
  'e.position, e.stream_id, e.version, e.aggregate_type, e.event_id, e.type, e.schema_version, ' +
  'e.payload, e.metadata, e.tags, e.occurred_at';

/** An events row as the drivers return it (before decoding). */
export interface EventRow {
  position: unknown;
  stream_id: string;
  version: unknown;
  aggregate_type: string;
  event_id: string;
  type: string;
  schema_version: unknown;
  payload: unknown;
  metadata: unknown;
  tags: unknown;
  occurred_at: unknown;
  /** PostgreSQL feed reads only: the writing transaction's id as text. */
  tx_id?: string;
}

/**
 * Decodes a stored event. A payload that no longer parses is returned as its raw text, so the
 * serializer can report it naming the type, stream and version; metadata and tags are the
 * journal's own and fail here with the same error.
 */
export function recordedEventFromRow(row: EventRow, dialect: SqlDialect, cursor?: string): RecordedEvent {
  const version = dialect.decodeInteger(row.version);
  const decodeOwn = (column: 'metadata' | 'tags'): unknown => {
    try {
      return dialect.decodeJson(row[column]);
    } catch (error) {
      throw new EventDecodingError(row.type, row.stream_id, version, `its stored ${column} is not valid JSON`, { cause: error });
    }
  };
  let payload: unknown;
  try {
    payload = dialect.decodeJson(row.payload);
  } catch {
    payload = row.payload;
  }
  // Most events carry no tags: skip the parse of the stored '[]'.
  const tags = row.tags === '[]' ? [] : decodeOwn('tags');
  const event: RecordedEvent = {
    eventId: row.event_id,
    type: row.type,
    schemaVersion: dialect.decodeInteger(row.schema_version),
    payload,
    metadata: (decodeOwn('metadata') ?? {}) as EventMetadata,
    tags: Array.isArray(tags) ? tags.map(String) : [],
    occurredAt: dialect.decodeTimestamp(row.occurred_at),
    streamId: row.stream_id,
    aggregateType: row.aggregate_type,
    version,
    position: dialect.decodeInteger(row.position),
  };
  if (cursor !== undefined) event.cursor = cursor;
  return event;
}
