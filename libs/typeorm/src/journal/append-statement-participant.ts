import type { AppendRequest } from '@chronicle/core';
import type { SqlParameters } from '../dialects/sql-parameters.js';

/**
 * One part a participant adds to the journal's one-statement append on PostgreSQL: a common
 * table expression named `name` whose body `sql` is a data-modifying statement with a RETURNING
 * clause, or a SELECT. The journal reads every part (it counts its rows), so a SELECT part runs
 * too.
 */
export interface AppendStatementPart {
  name: string;
  sql: string;
}

/**
 * The columns of the CTE of inserted events a part may read, one row per event of the unit:
 * `position, event_id, tx_id, stream_id, version, aggregate_type, type, schema_version, payload,
 * metadata, occurred_at` (the stored values, payload and metadata as jsonb).
 */
export const APPENDED_EVENT_COLUMNS =
  'position, event_id, tx_id, stream_id, version, aggregate_type, type, schema_version, payload, metadata, occurred_at';

/**
 * A unit-of-work participant that can also write inside the journal's one-statement append on
 * PostgreSQL. A unit of work whose participants all implement it is written by one autocommit
 * statement (stream checks, events, command records and the participants' rows) instead of a
 * transaction of one statement each: one round trip instead of six. The participant's rows are
 * written if and only if the events are: its parts must read the events CTE (`events`), whose
 * rows exist only when every check of the unit passed.
 *
 * A participant that does not implement it still works: the journal then writes the unit as a
 * transaction and calls `participate`.
 */
export interface AppendStatementParticipant {
  /**
   * The parts to add for this unit of work, with their parameters added to `params` (none when
   * the participant has nothing to write). `events` is the name of the CTE of inserted events
   * ({@link APPENDED_EVENT_COLUMNS}); `uniquePrefix` is a prefix for the parts' names that no other
   * part uses.
   */
  appendStatementParts(request: AppendRequest, params: SqlParameters, events: string, uniquePrefix: string): AppendStatementPart[];
}

/** Whether a participant can write inside the one-statement append. */
export function isAppendStatementParticipant<T>(participant: T): participant is T & AppendStatementParticipant {
  return typeof (participant as Partial<AppendStatementParticipant> | null)?.appendStatementParts === 'function';
}
