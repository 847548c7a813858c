import { randomUUID } from 'node:crypto';
import type { NewEvent, StreamWrite } from '@chronicle/core';

/** A new event of `type` whose payload names it, for journal tests that count what they read back. */
export function testEvent(type: string, label: string): NewEvent {
  return { eventId: randomUUID(), type, schemaVersion: 1, payload: { label }, metadata: {}, tags: [], occurredAt: new Date() };
}

/**
 * A write of `count` events to `streamId` after `expectedVersion`, each labelled
 * `<stream>#<version>` so a reader can tell which one it saw.
 */
export function testWrite(aggregateType: string, streamId: string, expectedVersion: number, count = 1): StreamWrite {
  return {
    streamId,
    aggregateType,
    expectedVersion,
    events: Array.from({ length: count }, (_, index) => testEvent(`${aggregateType}.tested`, `${streamId}#${expectedVersion + index + 1}`)),
  };
}
