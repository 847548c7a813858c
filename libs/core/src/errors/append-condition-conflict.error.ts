import type { RecordedEvent } from '../events/recorded-event.js';
import type { EventQuery, FeedCursor } from '../ports/journal.port.js';
import { ChronicleError } from './chronicle.error.js';

/**
 * A conditional append was refused: an event matching its condition's query was committed after
 * the cursor its decision read up to, so the decision was made on stale facts. Nothing was
 * written. Read the query's events again, decide again, and append with the new cursor.
 */
export class AppendConditionConflictError extends ChronicleError {
  constructor(
    /** The condition's query. */
    readonly query: EventQuery,
    /** The condition's cursor: where the decision's read ended. */
    readonly after: FeedCursor | null,
    /** The first matching event committed after `after`, in feed order. */
    readonly conflictingEvent: RecordedEvent,
  ) {
    super(
      `The append's condition failed: event ${conflictingEvent.eventId} (${conflictingEvent.type} at position ` +
        `${conflictingEvent.position} of stream "${conflictingEvent.streamId}") matches its query ${JSON.stringify(query)} ` +
        `and was committed after ${after === null ? 'the start of the journal' : `cursor ${after}`}. Nothing was written; ` +
        'read the query again and decide on the new events.',
    );
  }
}
