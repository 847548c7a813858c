import { EventDecodingError } from '@chronicle/core';
import type { EventMetadata, RecordedEvent } from '@chronicle/core';
import type { SqlDialect } from '../dialects/sql-dialect.js';

/**
 * The event columns every journal read selects, in the shape {@link EventRow} names them.
 * Metadata and tags come back as JSON text on both dialects (PostgreSQL casts them, see
 * `postgresJournalDialect.eventColumns`): the decoder parses them, and reuses the parse of the
 * row before when the text is the same (see {@link EventPageMemo}). Tags come back as NULL when
 * there are none, as for most events: no string is made for them, per row, by the driver.
 */
export const EVENT_COLUMNS =
  'e.position, e.stream_id, e.version, e.aggregate_type, e.event_id, e.type, e.schema_version, ' +
  "e.payload, e.metadata, NULLIF(e.tags, '[]') AS tags, e.occurred_at";

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
  /** JSON text (or, from a driver that parsed it, the value). */
  metadata: unknown;
  /** JSON text (or, from a driver that parsed it, the value); null for no tags. */
  tags: unknown;
  occurred_at: unknown;
  /** PostgreSQL feed reads only: the writing transaction's id as text. */
  tx_id?: string;
}

/**
 * What the decoding of one page remembers of the row before. The events of one unit sit next to
 * each other in the feed (it is ordered by writing transaction on PostgreSQL, by position on
 * SQLite) and share the metadata of their command and the time they were recorded: a page reads
 * the same metadata text and timestamp many times over. Parsing JSON costs more per event than
 * anything else in the decoding; copying a parsed flat object costs a fraction of that.
 */
export interface EventPageMemo {
  /** The metadata text last parsed, and its value when that is an object of JSON primitives only. */
  metadataText?: string;
  metadata?: EventMetadata;
  /** The stored timestamp last decoded (SQLite text), and its epoch milliseconds. */
  occurredAtRaw?: unknown;
  occurredAtMs?: number;
}

/** A JSON column as stored: text is parsed, a value a driver parsed already is taken as it is. */
function parseStored(raw: unknown): unknown {
  return typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
}

/** The value is an object whose members are all JSON primitives: a shallow copy is a fresh parse. */
function isFlatObject(value: unknown): value is EventMetadata {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  for (const key in value) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== null && typeof member === 'object') return false;
  }
  return true;
}

/**
 * The event's metadata: a fresh object per event (a handler may change its own), parsed from the
 * text, or copied from the row before's when the text is the same and the value flat.
 */
function decodeMetadata(raw: unknown, memo: EventPageMemo | undefined): unknown {
  if (memo !== undefined && typeof raw === 'string') {
    if (raw === memo.metadataText && memo.metadata !== undefined) return { ...memo.metadata };
    const value = JSON.parse(raw) as unknown;
    memo.metadataText = raw;
    memo.metadata = isFlatObject(value) ? { ...value } : undefined;
    return value;
  }
  return parseStored(raw);
}

function decodeOccurredAt(raw: unknown, dialect: SqlDialect, memo: EventPageMemo | undefined): Date {
  if (memo === undefined || typeof raw !== 'string') return dialect.decodeTimestamp(raw);
  if (raw !== memo.occurredAtRaw || memo.occurredAtMs === undefined) {
    memo.occurredAtRaw = raw;
    memo.occurredAtMs = dialect.decodeTimestamp(raw).getTime();
  }
  return new Date(memo.occurredAtMs);
}

/**
 * Decodes a stored event. A payload that no longer parses is returned as its raw text, so the
 * serializer can report it naming the type, stream and version; metadata and tags are the
 * journal's own and fail here with the same error. `memo`, shared by the rows of one page in feed
 * order, saves the parse of metadata and timestamps the row before had too.
 */
export function recordedEventFromRow(row: EventRow, dialect: SqlDialect, cursor?: string, memo?: EventPageMemo): RecordedEvent {
  const version = dialect.decodeInteger(row.version);
  const fail = (column: 'metadata' | 'tags', error: unknown): never => {
    throw new EventDecodingError(row.type, row.stream_id, version, `its stored ${column} is not valid JSON`, { cause: error });
  };
  let payload: unknown;
  try {
    payload = dialect.decodeJson(row.payload);
  } catch {
    payload = row.payload;
  }
  let metadata: unknown;
  try {
    metadata = decodeMetadata(row.metadata, memo);
  } catch (error) {
    fail('metadata', error);
  }
  // Most events carry no tags: the reads select NULL for the stored '[]' (see EVENT_COLUMNS).
  let tags: unknown = [];
  if (row.tags !== null && row.tags !== '[]') {
    try {
      tags = parseStored(row.tags);
    } catch (error) {
      fail('tags', error);
    }
  }
  return new PlainRecordedEvent(
    row.event_id,
    row.type,
    dialect.decodeInteger(row.schema_version),
    payload,
    (metadata ?? {}) as EventMetadata,
    Array.isArray(tags) ? tags.map(String) : [],
    decodeOccurredAt(row.occurred_at, dialect, memo),
    row.stream_id,
    row.aggregate_type,
    version,
    dialect.decodeInteger(row.position),
    cursor,
  );
}

/**
 * Makes a decoded event: a plain object (its prototype is `Object.prototype`, as an object
 * literal's, so it is the same plain record to every reader), made with `new` instead of a
 * literal on purpose. V8 tracks an object literal's allocation site, and when the objects made
 * there happen to survive a young-generation collection (a feed page's events are alive while
 * the page is handled), it allocates every later one in the old generation: each decoded event
 * then costs a full collection's work, and the young strings and payloads it points to are
 * promoted with it. Measured on a SQLite catch-up, that was a third of the time of the
 * subscription. Objects made with `new` have no allocation site and stay young.
 */
function initRecordedEvent(
  this: RecordedEvent,
  eventId: string,
  type: string,
  schemaVersion: number,
  payload: unknown,
  metadata: EventMetadata,
  tags: string[],
  occurredAt: Date,
  streamId: string,
  aggregateType: string,
  version: number,
  position: number,
  cursor: string | undefined,
): void {
  this.eventId = eventId;
  this.type = type;
  this.schemaVersion = schemaVersion;
  this.payload = payload;
  this.metadata = metadata;
  this.tags = tags;
  this.occurredAt = occurredAt;
  this.streamId = streamId;
  this.aggregateType = aggregateType;
  this.version = version;
  this.position = position;
  if (cursor !== undefined) this.cursor = cursor;
}

/** `initRecordedEvent` as the constructor `decodeEventRow` calls with `new`, its instances plain objects. */
const PlainRecordedEvent = initRecordedEvent as unknown as new (...args: Parameters<typeof initRecordedEvent>) => RecordedEvent;
(PlainRecordedEvent as { prototype: object }).prototype = Object.prototype;
