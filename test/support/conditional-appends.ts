import { randomUUID } from 'node:crypto';
import type { AppendRequest, EventQuery, NewEvent, StreamWrite } from '@chronicle/core';

// The decision of the conditional-append tests: open an account for an owner unless the events
// the decision read (an owner's opened accounts) changed since.

/** The event type the decision tests append and query. */
export const OPENED = 'account.opened';

/** A decision's read: the OPENED events tagged `owner:<owner>`. */
export function ownerQuery(owner: string): EventQuery {
  return [{ types: [OPENED], tags: [`owner:${owner}`] }];
}

/** A new OPENED event carrying `tags`. */
export function openedEvent(tags: string[]): NewEvent {
  return { eventId: randomUUID(), type: OPENED, schemaVersion: 1, payload: {}, metadata: {}, tags, occurredAt: new Date() };
}

/** A new stream (`streamId`, a fresh one unless given) of one OPENED event carrying `tags`. */
export function openedWrite(tags: string[], streamId = `s-${randomUUID()}`): StreamWrite {
  return { streamId, aggregateType: 'a', expectedVersion: 0, events: [openedEvent(tags)] };
}

/** `writes`, refused when an event matching `query` was appended after the read that returned `after`. */
export function conditionalAppend(query: EventQuery, after: string | null, ...writes: StreamWrite[]): AppendRequest {
  return { writes, condition: { failIfEventsMatch: query, after } };
}
