import type { AppendRequest, CommandRecord, StreamWrite } from '@chronicle/core';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { SqlParameters } from '../dialects/sql-parameters.js';
import type { ChronicleTables } from '../table-options.js';
import type { SqlStatement } from './journal-dialect.js';
import { APPENDED_EVENT_COLUMNS, type AppendStatementParticipant } from './append-statement-participant.js';

/** The row the one-statement append returns: a summary, and one event per row (none when `ok` is false). */
export interface OneStatementAppendRow {
  ok: boolean;
  position: unknown;
  event_id: string | null;
  tx_id: string | null;
}

/**
 * A whole unit of work on PostgreSQL as one autocommit statement, so it costs one round trip
 * where a transaction of one statement each costs six (BEGIN, lock, advance, events, commands,
 * COMMIT) plus one per participant. Its parts, as CTEs:
 *
 * - `locked`: the unit's existing stream rows locked `FOR UPDATE` in stream-id order, the lock
 *   order that keeps concurrent units from deadlocking. Under READ COMMITTED a row another unit
 *   changed meanwhile is waited for, then returned in its latest version, so `checked` compares
 *   every expected version with the version the stream really has, under the lock.
 * - `checked`: one boolean, true when every existing stream is at its expected version and every
 *   stream expected to be new has no row. The stream writes below are gated on it by an
 *   uncorrelated scalar subquery, which PostgreSQL evaluates once, before the write's first row
 *   (and the later writes on `moved`, which needs them): nothing is written unless all checks
 *   passed, and the row locks of `locked` come before any other.
 * - `advanced`, `created`: the stream rows moved to their new versions, or created. A stream
 *   created by another unit after this statement's snapshot makes `created` fail with a unique
 *   violation, which aborts the whole statement.
 * - `moved`: true when `checked` held and every stream row moved (for a unit without stream
 *   writes, `checked` alone). The writes below are gated on it, which makes PostgreSQL finish
 *   the stream rows before it writes any event: the same order as the transactional path
 *   (stream row first), so a unit written either way never waits on an event row of another
 *   unit while holding a stream row that unit needs (a deadlock). The data-modifying CTEs would
 *   otherwise run in whatever order the main query reads them.
 * - `appended`: the events, inserted in the order of the request (stream-id order, then version),
 *   so their positions ascend the way the transactional path assigns them.
 * - `recorded`: the command records; an id recorded already aborts the statement with a unique
 *   violation.
 * - the participants' parts (the outbox's entries), which read `appended`; then the NOTIFY, when
 *   enabled.
 *
 * With `conditionHolds` (a conditional append, run inside a transaction after its decision locks,
 * see `postgres-decision-locks`), `checked` also requires the append condition to hold, evaluated
 * with this statement's snapshot, taken after the locks were granted; or, for the prepared
 * conditional append, `CONDITION_HOLDS_GATE`: the answer of the check statement run just before
 * it in the same transaction, after the locks too.
 *
 * The table locks on the streams and events tables are taken when the statement starts, before
 * PostgreSQL assigns the transaction id, as the feed's bound requires (see the PostgreSQL
 * journal dialect). `params` collects the values as bound parameters; `InlineSqlParameters` writes
 * them into the text as literals instead (the one-round-trip conditional append). When `checked` is false the statement writes nothing and returns one row with
 * `ok` false; a unique violation aborts it. The journal then writes the unit again as a
 * transaction, which names the precise conflict.
 */
export function oneStatementAppend(
  tables: ChronicleTables,
  request: AppendRequest,
  ordered: readonly StreamWrite[],
  now: Date,
  participants: readonly AppendStatementParticipant[],
  notifyChannel: string | undefined,
  conditionHolds?: (params: SqlParameters) => string,
  params: SqlParameters = new SqlParameters(postgresDialect),
): SqlStatement {
  const p = (value: unknown): string => params.add(value);
  const ids = p(ordered.map((write) => write.streamId));
  const input =
    `SELECT * FROM unnest(${ids}::text[], ${p(ordered.map((write) => write.aggregateType))}::text[], ` +
    `${p(ordered.map((write) => write.expectedVersion))}::int[], ${p(ordered.map((write) => write.expectedVersion + write.events.length))}::int[]) ` +
    'AS i(id, aggregate_type, expected, next)';
  const timestamp = p(now);
  const gate = '(SELECT ok FROM checked)';
  const moved = '(SELECT ok FROM moved)';

  const events = ordered.flatMap((write) => write.events.map((event, index) => ({ write, event, version: write.expectedVersion + index + 1 })));
  const column = <T>(pick: (item: (typeof events)[number]) => T): T[] => events.map(pick);
  const eventArrays = [
    `${p(column((e) => e.write.streamId))}::text[]`,
    `${p(column((e) => e.version))}::int[]`,
    `${p(column((e) => e.write.aggregateType))}::text[]`,
    `${p(column((e) => e.event.eventId))}::text[]`,
    `${p(column((e) => e.event.type))}::text[]`,
    `${p(column((e) => e.event.schemaVersion))}::int[]`,
    `${p(column((e) => JSON.stringify(e.event.payload)))}::jsonb[]`,
    `${p(column((e) => JSON.stringify(e.event.metadata ?? {})))}::jsonb[]`,
    `${p(column((e) => JSON.stringify(e.event.tags)))}::jsonb[]`,
    `${p(column((e) => e.event.occurredAt))}::timestamptz[]`,
  ].join(', ');

  const ctes = [
    `input AS (${input})`,
    `locked AS MATERIALIZED (SELECT s.id, s.version FROM ${tables.streams} s WHERE s.id = ANY (${ids}::text[]) ORDER BY s.id FOR UPDATE)`,
    'checked AS MATERIALIZED (SELECT COALESCE(bool_and(CASE WHEN i.expected = 0 THEN l.id IS NULL ' +
      `ELSE l.version IS NOT DISTINCT FROM i.expected END), true)${conditionHolds === undefined ? '' : ` AND (${conditionHolds(params)})`} ` +
      'AS ok FROM input i LEFT JOIN locked l ON l.id = i.id)',
    // `s.id = ANY (ids)` repeats what `s.id = i.id` implies: it gives the planner the primary key to
    // find the rows by. Without it, a plan made while the streams table was small (a prepared
    // statement keeps its generic plan until an ANALYZE) scanned the whole table on every append.
    `advanced AS (UPDATE ${tables.streams} s SET version = i.next, updated_at = ${timestamp} FROM input i ` +
      `WHERE ${gate} AND s.id = ANY (${ids}::text[]) AND s.id = i.id AND i.expected > 0 RETURNING s.id)`,
    `created AS (INSERT INTO ${tables.streams} (id, aggregate_type, version, deleted_up_to, created_at, updated_at) ` +
      `SELECT i.id, i.aggregate_type, i.next, 0, ${timestamp}, ${timestamp} FROM input i WHERE ${gate} AND i.expected = 0 ORDER BY i.id RETURNING id)`,
    // `checked` ANDed in: a unit without stream writes (a decision recording only its outcome,
    // writes: []) moves no row, so the counts alone held whatever `checked` said, and its command
    // records were written on a failed condition or a cursor this journal did not hand out.
    `moved AS MATERIALIZED (SELECT ${gate} AND (SELECT count(*) FROM advanced) + (SELECT count(*) FROM created) = ${p(ordered.length)} AS ok)`,
    `appended AS (INSERT INTO ${tables.events} (stream_id, version, aggregate_type, event_id, type, schema_version, payload, metadata, tags, occurred_at) ` +
      'SELECT v.stream_id, v.version, v.aggregate_type, v.event_id, v.type, v.schema_version, v.payload, v.metadata, v.tags, v.occurred_at ' +
      `FROM unnest(${eventArrays}) WITH ORDINALITY ` +
      'AS v(stream_id, version, aggregate_type, event_id, type, schema_version, payload, metadata, tags, occurred_at, ord) ' +
      `WHERE ${moved} ORDER BY v.ord RETURNING ${APPENDED_EVENT_COLUMNS})`,
  ];
  const commands = request.commands ?? [];
  if (commands.length > 0) ctes.push(`recorded AS (${recordCommands(tables, commands, params, moved)})`);
  const parts = participants.flatMap((participant, index) => participant.appendStatementParts(request, params, 'appended', `p${index}_`));
  for (const part of parts) ctes.push(`${part.name} AS (${part.sql})`);
  const reads = parts.map((part) => `(SELECT count(*) FROM ${part.name})`);
  if (commands.length > 0) reads.push('(SELECT count(*) FROM recorded)');
  if (notifyChannel !== undefined) {
    // A plain SELECT in WITH runs only when read: `reads` reads it. One per statement, and only
    // when it wrote events.
    // The unit's origin as the payload: the runtime that wrote it skips its own wake-up.
    ctes.push(`woke AS (SELECT pg_notify(${p(notifyChannel)}, ${p(request.origin ?? '')}) FROM (SELECT 1 FROM appended LIMIT 1) x)`);
    reads.push('(SELECT count(*) FROM woke)');
  }
  // Every CTE is read (PostgreSQL runs data-modifying ones regardless, but a SELECT only when
  // read); the counts themselves are not needed.
  const sql =
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT c.ok, a.position, a.event_id, a.tx_id::text AS tx_id${reads.length > 0 ? `, ${reads.join(' + ')} AS touched` : ''} ` +
    'FROM moved c LEFT JOIN appended a ON true ORDER BY a.position';
  return { sql, params: params.values };
}

function recordCommands(tables: ChronicleTables, commands: readonly CommandRecord[], params: SqlParameters, gate: string): string {
  // In id order: two units recording the same ids wait on each other's keys in one order.
  const sorted = [...commands].sort((a, b) => (a.commandId < b.commandId ? -1 : a.commandId > b.commandId ? 1 : 0));
  const p = (values: unknown[], type: string): string => `${params.add(values)}::${type}[]`;
  return (
    `INSERT INTO ${tables.commands} (command_id, fingerprint, stream_id, aggregate_type, outcome, recorded_at) ` +
    'SELECT c.command_id, c.fingerprint, c.stream_id, c.aggregate_type, c.outcome, c.recorded_at FROM unnest(' +
    [
      p(sorted.map((c) => c.commandId), 'text'),
      p(sorted.map((c) => c.fingerprint), 'text'),
      p(sorted.map((c) => c.streamId), 'text'),
      p(sorted.map((c) => c.aggregateType), 'text'),
      p(sorted.map((c) => JSON.stringify(c.outcome)), 'jsonb'),
      p(sorted.map((c) => c.recordedAt), 'timestamptz'),
    ].join(', ') +
    ') WITH ORDINALITY AS c(command_id, fingerprint, stream_id, aggregate_type, outcome, recorded_at, ord) ' +
    `WHERE ${gate} ORDER BY c.ord RETURNING 1`
  );
}
