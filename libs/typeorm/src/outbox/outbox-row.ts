import type { EventMetadata, OutboxEntry } from '@chronicle/core';
import type { SqlDialect } from '../dialects/sql-dialect.js';

/** The outbox columns every read and claim returns, in the shape {@link OutboxRow} names them. */
export const OUTBOX_COLUMNS =
  'id, handler, aggregate_type, aggregate_id, stream_id, version, event_id, event_type, schema_version, payload, ' +
  'metadata, occurred_at, attempts, next_attempt_at, last_error, lease_owner, lease_until, published_at, dead_lettered_at';

/** An outbox row as the drivers return it (before decoding). */
export interface OutboxRow {
  id: string;
  handler: string;
  aggregate_type: string;
  aggregate_id: string;
  stream_id: string;
  version: unknown;
  event_id: string;
  event_type: string;
  schema_version: unknown;
  payload: unknown;
  metadata: unknown;
  occurred_at: unknown;
  attempts: unknown;
  next_attempt_at: unknown;
  last_error: string | null;
  lease_owner: string | null;
  lease_until: unknown;
  published_at: unknown;
  dead_lettered_at: unknown;
}

/**
 * Decodes a stored entry. A payload that no longer parses is returned as its raw text (the relay
 * dead-letters what it cannot read); metadata that no longer parses becomes `{}`, because failing
 * here would fail the whole claim and so stall every aggregate of the handler.
 */
export function outboxEntryFromRow(row: OutboxRow, dialect: SqlDialect): OutboxEntry {
  const lenient = (raw: unknown): { ok: true; value: unknown } | { ok: false } => {
    try {
      return { ok: true, value: dialect.decodeJson(raw) };
    } catch {
      return { ok: false };
    }
  };
  const payload = lenient(row.payload);
  const metadata = lenient(row.metadata);
  const metadataValue = metadata.ok ? metadata.value : undefined;
  const isObject = metadataValue !== null && typeof metadataValue === 'object' && !Array.isArray(metadataValue);
  const optionalTime = (raw: unknown): Date | undefined => (raw === null || raw === undefined ? undefined : dialect.decodeTimestamp(raw));
  const leaseUntil = optionalTime(row.lease_until);
  const publishedAt = optionalTime(row.published_at);
  const deadLetteredAt = optionalTime(row.dead_lettered_at);
  return {
    id: row.id,
    handler: row.handler,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    streamId: row.stream_id,
    version: dialect.decodeInteger(row.version),
    eventId: row.event_id,
    eventType: row.event_type,
    schemaVersion: dialect.decodeInteger(row.schema_version),
    payload: payload.ok ? payload.value : row.payload,
    metadata: (isObject ? metadataValue : {}) as EventMetadata,
    occurredAt: dialect.decodeTimestamp(row.occurred_at),
    attempts: dialect.decodeInteger(row.attempts),
    nextAttemptAt: dialect.decodeTimestamp(row.next_attempt_at),
    ...(row.last_error === null ? {} : { lastError: row.last_error }),
    ...(row.lease_owner === null ? {} : { leaseOwner: row.lease_owner }),
    ...(leaseUntil === undefined ? {} : { leaseUntil }),
    ...(publishedAt === undefined ? {} : { publishedAt }),
    ...(deadLetteredAt === undefined ? {} : { deadLetteredAt }),
  };
}
