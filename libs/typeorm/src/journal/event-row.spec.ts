import { EventDecodingError } from '@chronicle/core';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { sqliteDialect } from '../dialects/sqlite.dialect.js';
import { recordedEventFromRow, type EventPageMemo, type EventRow } from './event-row.js';

const metadataText = JSON.stringify({ commandId: 'c-1', correlationId: 'c-1', causationId: 'c-1', expectedVersion: 3 });

function row(position: number, overrides: Partial<EventRow> = {}): EventRow {
  return {
    position,
    stream_id: 's-1',
    version: position,
    aggregate_type: 'ledger',
    event_id: `e-${position}`,
    type: 'ledger.posted',
    schema_version: 1,
    payload: JSON.stringify({ amount: position }),
    metadata: metadataText,
    tags: '[]',
    occurred_at: '2026-12-07 02:33:11.041',
    ...overrides,
  };
}

describe('recordedEventFromRow with a page memo', () => {
  it('gives every event of a page its own metadata object, equal to a parse of its text', () => {
    const memo: EventPageMemo = {};
    const [first, second, third] = [1, 2, 3].map((position) => recordedEventFromRow(row(position), sqliteDialect, String(position), memo));
    expect(second!.metadata).toEqual(JSON.parse(metadataText));
    expect(Object.keys(second!.metadata)).toEqual(Object.keys(JSON.parse(metadataText) as object));
    expect(second!.metadata).not.toBe(first!.metadata);
    expect(third!.metadata).not.toBe(second!.metadata);
    // A handler that changes one event's metadata changes no other event's.
    first!.metadata.commandId = 'changed';
    second!.metadata.extra = 'added';
    const fourth = recordedEventFromRow(row(4), sqliteDialect, '4', memo);
    expect(third!.metadata).toEqual(JSON.parse(metadataText));
    expect(fourth.metadata).toEqual(JSON.parse(metadataText));
  });

  it('parses nested metadata afresh for every event (a shallow copy would share the nested objects)', () => {
    const nested = JSON.stringify({ commandId: 'c-2', actor: { id: 'u-1', roles: ['admin'] } });
    const memo: EventPageMemo = {};
    const [first, second] = [1, 2].map((position) => recordedEventFromRow(row(position, { metadata: nested }), sqliteDialect, undefined, memo));
    expect(second!.metadata).toEqual(JSON.parse(nested));
    expect(second!.metadata.actor).not.toBe(first!.metadata.actor);
  });

  it('decodes a different metadata text, timestamp and tags after a run of equal ones', () => {
    const memo: EventPageMemo = {};
    recordedEventFromRow(row(1), sqliteDialect, undefined, memo);
    const other = recordedEventFromRow(
      row(2, { metadata: '{"commandId":"c-9"}', occurred_at: '2026-12-07 02:33:12.500', tags: '["a","b"]' }),
      sqliteDialect,
      undefined,
      memo,
    );
    expect(other.metadata).toEqual({ commandId: 'c-9' });
    expect(other.occurredAt.toISOString()).toBe('2026-12-07T02:33:12.500Z');
    expect(other.tags).toEqual(['a', 'b']);
    const [a, b] = [3, 4].map((position) => recordedEventFromRow(row(position), sqliteDialect, undefined, memo));
    expect(a!.occurredAt.toISOString()).toBe('2026-12-07T02:33:11.041Z');
    // Each event its own Date.
    expect(b!.occurredAt).not.toBe(a!.occurredAt);
  });

  it('reads PostgreSQL rows with metadata and tags as JSON text and occurred_at as epoch milliseconds', () => {
    const event = recordedEventFromRow(
      row(1, { payload: { amount: 1 }, tags: '["t"]', occurred_at: Date.UTC(2026, 11, 7), position: '1', version: 1, tx_id: '7' }),
      postgresDialect,
      '7:1',
      {},
    );
    expect(event).toMatchObject({ payload: { amount: 1 }, metadata: JSON.parse(metadataText), tags: ['t'], position: 1, cursor: '7:1' });
    expect(event.occurredAt.toISOString()).toBe('2026-12-07T00:00:00.000Z');
  });

  it('reads no tags (NULL, as the reads select the stored []) as an empty list, and stored tags as strings', () => {
    expect(recordedEventFromRow(row(1, { tags: null }), sqliteDialect).tags).toEqual([]);
    expect(recordedEventFromRow(row(1, { tags: '[]' }), sqliteDialect).tags).toEqual([]);
    expect(recordedEventFromRow(row(1, { tags: '["a",2]' }), sqliteDialect).tags).toEqual(['a', '2']);
  });

  it('fails naming the column when stored metadata or tags are not JSON', () => {
    const memo: EventPageMemo = {};
    expect(() => recordedEventFromRow(row(1, { metadata: '{oops' }), sqliteDialect, undefined, memo)).toThrow(EventDecodingError);
    expect(() => recordedEventFromRow(row(1, { metadata: '{oops' }), sqliteDialect, undefined, memo)).toThrow(/stored metadata is not valid JSON/);
    expect(() => recordedEventFromRow(row(1, { tags: '[oops' }), sqliteDialect, undefined, memo)).toThrow(/stored tags is not valid JSON/);
  });
});

describe('recordedEventFromRow makes plain records', () => {
  it('returns an object equal in every respect to the literal it stands for, cursor last and only when given', () => {
    const withCursor = recordedEventFromRow(row(7), sqliteDialect, '7');
    expect(Object.getPrototypeOf(withCursor)).toBe(Object.prototype);
    expect(withCursor.constructor).toBe(Object);
    expect(withCursor).toStrictEqual({
      eventId: 'e-7',
      type: 'ledger.posted',
      schemaVersion: 1,
      payload: { amount: 7 },
      metadata: JSON.parse(metadataText) as object,
      tags: [],
      occurredAt: new Date('2026-12-07T02:33:11.041Z'),
      streamId: 's-1',
      aggregateType: 'ledger',
      version: 7,
      position: 7,
      cursor: '7',
    });
    expect(Object.keys(withCursor).at(-1)).toBe('cursor');
    const withoutCursor = recordedEventFromRow(row(8), sqliteDialect);
    expect('cursor' in withoutCursor).toBe(false);
    expect(Object.keys(withoutCursor)).toEqual(Object.keys(withCursor).slice(0, -1));
    expect(structuredClone(withoutCursor)).toStrictEqual(withoutCursor);
    expect(JSON.parse(JSON.stringify(withCursor))).toEqual({ ...withCursor, occurredAt: '2026-12-07T02:33:11.041Z' });
  });
});
