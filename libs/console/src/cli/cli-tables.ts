import Table from 'cli-table3';
import type {
  CliCommandJson,
  CliEventJson,
  CliOutboxEntryJson,
  CliOutboxStatsJson,
  CliParkedEventJson,
  CliSagaInstanceJson,
  CliSagaJson,
  CliSagaSummaryJson,
  CliStatusJson,
  CliStreamEventsJson,
  CliStreamJson,
  CliSubscriptionJson,
} from './cli-json.js';

// The default (human) output: tables drawn by cli-table3, without colours (the output is often
// piped or pasted into a ticket). Every value from the database goes through `cell`, which shows
// control characters as escapes: a payload holding terminal escape sequences is displayed, not
// executed by the operator's terminal.

/** Longest text shown in one cell; the `--json` output has everything. */
const CELL_WIDTH = 60;

// C0 controls, DEL and C1 controls (0x9b is the one-byte CSI).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Text with its control characters but line ends shown as escapes (for error messages). */
export function inertText(text: string): string {
  return text.replace(CONTROL, (char) => (char === '\n' ? char : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** A value as one line of inert text, cut to `width` characters. */
export function cell(value: unknown, width = CELL_WIDTH): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else text = JSON.stringify(value) ?? '';
  text = text.replace(CONTROL, (char) => {
    const code = char.charCodeAt(0);
    if (code === 0x0a) return '\\n';
    if (code === 0x0d) return '\\r';
    if (code === 0x09) return '\\t';
    return `\\x${code.toString(16).padStart(2, '0')}`;
  });
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** A cell of several lines, each made inert by `cell` already. */
class Lines {
  constructor(readonly lines: string[]) {}
}

function table(head: string[], rows: unknown[][]): string {
  const drawn = new Table({ head, style: { head: [], border: [], compact: false } });
  for (const row of rows) drawn.push(row.map((value) => (value instanceof Lines ? value.lines.join('\n') : cell(value))));
  return drawn.toString();
}

const count = ({ count: n, atLeast }: { count: number; atLeast: boolean }): string => (atLeast ? `≥${n}` : String(n));

function section(title: string, body: string): string {
  return `${title}\n${body}`;
}

function nextHint(option: string, next: string | number | null): string {
  return next === null ? '' : `More: add ${option} ${typeof next === 'string' ? quote(next) : next}\n`;
}

function quote(text: string): string {
  return /^[\w:./@+-]+$/.test(text) ? cell(text, 200) : `'${cell(text, 200).replace(/'/g, "'\\''")}'`;
}

function empty(what: string): string {
  return `(no ${what})\n`;
}

/** `status` */
export function statusTable(status: CliStatusJson): string {
  const lines = [
    `Chronicle at ${status.at}: head position ${status.headPosition}; ` +
      `${count(status.throughput.lastMinute)} events in the last minute, ${count(status.throughput.lastHour)} in the last hour` +
      (status.runtime === 'absent' ? '.' : `; runtime ${status.runtime}.`),
  ];
  if (status.feedBlocker) {
    lines.push(`The feed is held back by transaction ${cell(status.feedBlocker.transactionId)}${status.feedBlocker.pid === null ? '' : ` (pid ${status.feedBlocker.pid})`}.`);
  }
  let out = `${lines.join('\n')}\n\n`;
  out += section('Outbox', status.outbox.length === 0 ? empty('outbox handlers') : outboxStatsTable(status.outbox));
  out += '\n' + section('Subscriptions', status.subscriptions.length === 0 ? empty('subscriptions') : subscriptionsTable(status.subscriptions));
  out += '\n' + section('Sagas', status.sagas.length === 0 ? empty('sagas') : sagaSummaryTable(status.sagas));
  return out;
}

/** `outbox` (backlog per handler) */
export function outboxStatsTable(stats: CliOutboxStatsJson[]): string {
  if (stats.length === 0) return empty('outbox handlers');
  return `${table(
    ['handler', 'pending', 'leased', 'dead letters', 'oldest pending'],
    stats.map((s) => [s.handler, s.pending, s.leased, s.deadLettered, s.oldestPendingAt ?? '']),
  )}\n`;
}

/** `subscriptions` */
export function subscriptionsTable(subscriptions: CliSubscriptionJson[]): string {
  if (subscriptions.length === 0) return empty('subscriptions');
  return `${table(
    ['subscription', 'position', 'lag', 'parked', 'lease held by', 'until', 'last error'],
    subscriptions.map((s) => [s.name, s.position ?? '(start)', count(s.lag), count(s.parked), s.leaseOwner ?? '', s.leaseUntil ?? '', s.lastError ?? '']),
  )}\n`;
}

/** `sagas` without `--saga` */
export function sagaSummaryTable(sagas: CliSagaSummaryJson[]): string {
  if (sagas.length === 0) return empty('sagas');
  return `${table(
    ['saga', 'active', 'completed', 'overdue deadlines'],
    sagas.map((s) => [s.saga, count(s.active), count(s.completed), s.overdueDeadlines]),
  )}\n`;
}

/** `streams` */
export function streamsTable(streams: CliStreamJson[], next: string | null): string {
  if (streams.length === 0) return empty('streams found');
  return `${table(
    ['stream', 'aggregate type', 'version', 'deleted up to'],
    streams.map((s) => [s.streamId, s.aggregateType, s.version, s.deletedUpTo]),
  )}\n${nextHint('--after', next)}`;
}

function metadataOf(event: { metadata: Record<string, unknown> }): Lines {
  const { commandId, correlationId, causationId } = event.metadata;
  return new Lines(
    [
      commandId === undefined ? '' : `command ${cell(commandId, 40)}`,
      correlationId === undefined ? '' : `correlation ${cell(correlationId, 40)}`,
      causationId === undefined ? '' : `causation ${cell(causationId, 40)}`,
    ].filter(Boolean),
  );
}

function eventRows(events: CliEventJson[], withStream: boolean): unknown[][] {
  return events.map((e) => [
    ...(withStream ? [e.position, e.streamId] : [e.position]),
    e.version,
    e.type,
    e.occurredAt,
    metadataOf(e),
    e.payload,
  ]);
}

/** `events <stream>` */
export function streamEventsTable(page: CliStreamEventsJson): string {
  const { stream } = page;
  const header =
    `Stream ${cell(stream.streamId, 200)} (${cell(stream.aggregateType)}), version ${stream.version}` +
    (stream.deletedUpTo > 0 ? `, deleted up to ${stream.deletedUpTo}` : '') +
    '\n';
  if (page.items.length === 0) return `${header}${empty('events from this version')}`;
  return `${header}${table(['position', 'version', 'type', 'occurred at', 'metadata', 'payload'], eventRows(page.items, false))}\n${nextHint('--from', page.next)}`;
}

/** `feed` */
export function feedTable(events: CliEventJson[], next: number | null): string {
  if (events.length === 0) return empty('events');
  return `${table(['position', 'stream', 'version', 'type', 'occurred at', 'metadata', 'payload'], eventRows(events, true))}\n${nextHint('--before', next)}`;
}

/** `outbox --dead` */
export function deadLettersTable(entries: CliOutboxEntryJson[], next: number | null): string {
  if (entries.length === 0) return empty('dead-lettered entries');
  return `${table(
    ['id', 'handler', 'stream', 'version', 'event type', 'attempts', 'dead-lettered at', 'error'],
    entries.map((e) => [e.id, e.handler, e.streamId, e.version, e.eventType, e.attempts, e.deadLetteredAt ?? '', e.lastError ?? '']),
  )}\n${nextHint('--page', next)}`;
}

/** `outbox --leased` */
export function leasedTable(entries: CliOutboxEntryJson[], next: number | null): string {
  if (entries.length === 0) return empty('leased entries');
  return `${table(
    ['id', 'handler', 'stream', 'version', 'event type', 'held by', 'until', 'attempts'],
    entries.map((e) => [e.id, e.handler, e.streamId, e.version, e.eventType, e.leaseOwner ?? '', e.leaseUntil ?? '', e.attempts]),
  )}\n${nextHint('--page', next)}`;
}

/** `parked <subscription>` */
export function parkedTable(parked: CliParkedEventJson[], next: number | null): string {
  if (parked.length === 0) return empty('parked events');
  return `${table(
    ['stream', 'version', 'position', 'type', 'reason', 'attempts', 'parked at', 're-drive asked', 'error'],
    parked.map((p) => [p.streamId, p.version, p.position, p.type, p.reason, p.attempts, p.parkedAt, p.redriveRequestedAt ?? '', p.error ?? '']),
  )}\n${nextHint('--page', next)}`;
}

/** `sagas --saga <name>` */
export function sagaInstancesTable(instances: CliSagaInstanceJson[], next: string | null): string {
  if (instances.length === 0) return empty('saga instances');
  return `${table(
    ['correlation id', 'status', 'version', 'started at', 'updated at', 'state'],
    instances.map((i) => [i.correlationId, i.status, i.version, i.startedAt, i.updatedAt, i.state]),
  )}\n${nextHint('--after', next)}`;
}

/** `saga <saga> <correlationId>` */
export function sagaTable(saga: CliSagaJson): string {
  const { instance } = saga;
  const fields = table(
    ['field', 'value'],
    [
      ['saga', instance.sagaName],
      ['correlation id', instance.correlationId],
      ['status', instance.status],
      ['version', instance.version],
      ['state version', instance.stateVersion],
      ['started at', instance.startedAt],
      ['updated at', instance.updatedAt],
      ['ended at', instance.endedAt ?? ''],
    ],
  );
  // JSON.stringify escapes C0 controls inside strings; DEL and C1 controls are escaped here.
  const json = (JSON.stringify(instance.state, null, 2) ?? 'null').replace(/[\u007f-\u009f]/g, (char) => `\\u00${char.charCodeAt(0).toString(16)}`);
  const state = `State:\n${json.length > 4_000 ? `${json.slice(0, 3_999)}…` : json}\n`;
  const deadlines =
    saga.deadlines.length === 0
      ? empty('pending deadlines')
      : `${table(
          ['deadline', 'due at', 'attempts', 'parked at', 'last error'],
          saga.deadlines.map((d) => [d.name, d.dueAt, d.attempts, d.parkedAt ?? '', d.lastError ?? '']),
        )}\n`;
  return `${fields}\n${state}\nDeadlines\n${deadlines}`;
}

/** `command <commandId>` */
export function commandTable(command: CliCommandJson): string {
  const rows: unknown[][] = [
    ['command id', command.commandId],
    ['stream', command.streamId],
    ['aggregate type', command.aggregateType],
    ['recorded at', command.recordedAt],
    ['outcome', command.outcome],
  ];
  if (command.outcome === 'accepted') rows.push(['versions', `${command.fromVersion}..${command.toVersion}`]);
  if (command.cursor !== null) rows.push(['cursor', command.cursor]);
  if (command.error) rows.push(['error', `${command.error.name} (${command.error.code})`], ['message', command.error.message]);
  return `${table(['field', 'value'], rows)}\n`;
}
