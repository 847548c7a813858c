import pg from 'pg';
import type { ReceivedMessage } from '../support/outbox-test-apps.js';
import type { Answer, Operation, Outcome } from './workload.js';
import type { InjectedFault } from './faults.js';

/** One invariant's verdict, with the counts behind it. */
export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
  problems: string[];
}

interface EventRow {
  stream_id: string;
  version: number;
  type: string;
  event_id: string;
  aggregate_type: string;
  payload: Record<string, unknown>;
  command_id: string | null;
}

/** An account as a fresh fold of the journal sees it. */
export interface FoldedAccount {
  balance: number;
  closed: boolean;
  owner: string;
}

/** Reads what the invariants need from the journal of `schema`. */
export async function readJournal(pool: pg.Pool, schema: string): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>(
    `SELECT stream_id, version, type, event_id, aggregate_type, payload, metadata->>'commandId' AS command_id
     FROM "${schema}".chronicle_events ORDER BY stream_id, version`,
  );
  return rows;
}

/** A value sealed by crypto-shredding (`@PersonalData`): `{ $pd, k, n, t, c }`, never the plain value. */
function isSealed(value: unknown): boolean {
  return typeof value === 'object' && value !== null && '$pd' in value && 'c' in value;
}

/**
 * Balances, owners and closed flags per account id, folded from the journal's account events.
 * The owner's name is personal data, stored sealed: the fold cannot open it, so it takes the
 * owner the client opened the account with (`openedOwners`, from the acknowledged opens), and a
 * plain owner in the journal is a problem of its own (`sealedProblems`).
 */
export function foldAccounts(events: readonly EventRow[], openedOwners: ReadonlyMap<string, string>, sealedProblems: string[] = []): Map<string, FoldedAccount> {
  const accounts = new Map<string, FoldedAccount>();
  for (const event of events) {
    if (event.aggregate_type !== 'account') continue;
    const id = String(event.payload.accountId);
    const account = accounts.get(id) ?? { balance: 0, closed: false, owner: '' };
    const amount = Number(event.payload.amount ?? 0);
    if (event.type === 'account.opened') {
      if (!isSealed(event.payload.owner)) sealedProblems.push(`${id}: account.opened stores the owner in plain text`);
      account.owner = openedOwners.get(id) ?? `(no acknowledged open of ${id})`;
    }
    if (event.type === 'account.money-deposited' || event.type === 'account.money-refunded') account.balance += amount;
    if (event.type === 'account.money-withdrawn') account.balance -= amount;
    if (event.type === 'account.closed') account.closed = true;
    accounts.set(id, account);
  }
  return accounts;
}

const EVENTS_PER_COMMAND: Record<Operation['kind'], number> = {
  open: 1,
  deposit: 1,
  withdraw: 1,
  close: 1,
  transfer: 1,
  'stale-deposit': 1,
  replay: 0,
};

/** Every acknowledged command's event is in the journal once; a refused one wrote nothing; streams are 1..n. */
export function checkJournal(operations: readonly Operation[], outcomes: ReadonlyMap<number, Outcome>, events: readonly EventRow[]): InvariantResult {
  const problems: string[] = [];
  const byCommand = new Map<string, number>();
  for (const event of events) if (event.command_id) byCommand.set(event.command_id, (byCommand.get(event.command_id) ?? 0) + 1);
  let acknowledged = 0;
  let refused = 0;
  operations.forEach((operation, index) => {
    if (operation.kind === 'replay') return;
    const outcome = outcomes.get(index);
    if (!outcome) return;
    const written = byCommand.get(operation.key) ?? 0;
    if (outcome.status < 300) {
      acknowledged += 1;
      if (written !== EVENTS_PER_COMMAND[operation.kind]) problems.push(`${operation.key} (${operation.kind}) acknowledged with ${written} events`);
    } else {
      refused += 1;
      if (written !== 0) problems.push(`${operation.key} (${operation.kind}) refused with ${outcome.status} but wrote ${written} events`);
    }
  });
  let sagaCommands = 0;
  for (const [commandId, count] of byCommand) {
    if (!commandId.startsWith('money-transfer:')) continue;
    sagaCommands += 1;
    if (count !== 1) problems.push(`saga command ${commandId} wrote ${count} events`);
  }
  const streams = new Map<string, number[]>();
  for (const event of events) streams.set(event.stream_id, [...(streams.get(event.stream_id) ?? []), event.version]);
  for (const [stream, versions] of streams) {
    if (versions.some((version, i) => version !== i + 1)) problems.push(`${stream} has versions ${versions.join(',')}`);
  }
  return {
    name: 'journal: each command exactly once, versions 1..n',
    ok: problems.length === 0,
    detail: `${events.length} events in ${streams.size} streams; ${acknowledged} acknowledged commands each in the journal once, ${refused} refused commands wrote nothing, ${sagaCommands} saga commands once each`,
    problems,
  };
}

/** The money in the accounts equals what was deposited minus what was withdrawn, as acknowledged. */
export function checkMoney(
  operations: readonly Operation[],
  outcomes: ReadonlyMap<number, Outcome>,
  initial: number,
  folded: ReadonlyMap<string, FoldedAccount>,
  transfers: ReadonlyMap<string, string>,
): InvariantResult {
  let deposited = initial;
  let withdrawn = 0;
  operations.forEach((operation, index) => {
    const outcome = outcomes.get(index);
    if (!outcome || outcome.status >= 300) return;
    if (operation.kind === 'deposit' || operation.kind === 'stale-deposit') deposited += operation.amount;
    if (operation.kind === 'withdraw') withdrawn += operation.amount;
  });
  const total = [...folded.values()].reduce((sum, account) => sum + account.balance, 0);
  const pending = [...transfers].filter(([, status]) => status !== 'completed' && status !== 'failed');
  const problems: string[] = [];
  if (total !== deposited - withdrawn) problems.push(`balances sum to ${total}, deposits minus withdrawals are ${deposited - withdrawn}`);
  for (const [id, status] of pending) problems.push(`transfer ${id} is ${status}`);
  const negative = [...folded].filter(([, account]) => account.balance < 0);
  for (const [id, account] of negative) problems.push(`account ${id} has a negative balance ${account.balance}`);
  const counts = { completed: 0, failed: 0 };
  for (const status of transfers.values()) if (status === 'completed' || status === 'failed') counts[status] += 1;
  return {
    name: 'money conserved, every transfer terminal',
    ok: problems.length === 0,
    detail: `sum of ${folded.size} balances ${total} = ${deposited} deposited − ${withdrawn} withdrawn; transfers: ${counts.completed} completed, ${counts.failed} failed, ${pending.length} not terminal`,
    problems,
  };
}

/** Every journal event reached the broker at least once, first arrivals in version order per aggregate. */
export function checkDelivery(events: readonly EventRow[], messages: readonly ReceivedMessage[]): InvariantResult & { duplicates: number } {
  const problems: string[] = [];
  const perAggregate = new Map<string, number>();
  for (const event of events) {
    const aggregateId = event.stream_id.slice(event.aggregate_type.length + 1);
    perAggregate.set(aggregateId, Math.max(perAggregate.get(aggregateId) ?? 0, event.version));
  }
  const seen = new Map<string, number[]>();
  const ids = new Map<string, number>();
  for (const message of messages) {
    const versions = seen.get(message.aggregateId) ?? [];
    if (!versions.includes(message.version)) versions.push(message.version);
    seen.set(message.aggregateId, versions);
    ids.set(`${message.aggregateId}@${message.version}`, (ids.get(`${message.aggregateId}@${message.version}`) ?? 0) + 1);
  }
  for (const [aggregateId, count] of perAggregate) {
    const first = seen.get(aggregateId) ?? [];
    const expected = Array.from({ length: count }, (_, i) => i + 1);
    if (first.join(',') !== expected.join(',')) problems.push(`${aggregateId}: first arrivals ${first.join(',')}, expected 1..${count}`);
  }
  const duplicates = [...ids.values()].reduce((sum, n) => sum + n - 1, 0);
  return {
    name: 'every event on RabbitMQ at least once, in version order per aggregate',
    ok: problems.length === 0,
    detail: `${events.length} events of ${perAggregate.size} aggregates; ${messages.length} messages received, ${duplicates} duplicate deliveries`,
    problems: problems.slice(0, 20),
    duplicates,
  };
}

/** The balances projection equals a fresh fold of the journal. */
export function checkProjection(
  rows: ReadonlyArray<{ id: string; owner: string; balance: number; closed: boolean }>,
  folded: ReadonlyMap<string, FoldedAccount>,
): InvariantResult {
  const problems: string[] = [];
  const projected = new Map(rows.map((row) => [row.id, row]));
  for (const [id, account] of folded) {
    const row = projected.get(id);
    if (!row) problems.push(`${id} missing from the projection`);
    else if (Number(row.balance) !== account.balance || row.closed !== account.closed || row.owner !== account.owner) {
      problems.push(`${id}: projected ${JSON.stringify(row)}, folded ${JSON.stringify(account)}`);
    }
  }
  for (const id of projected.keys()) if (!folded.has(id)) problems.push(`${id} projected but not in the journal`);
  return {
    name: 'balances projection equals a fresh fold of the journal',
    ok: problems.length === 0,
    detail: `${rows.length} projected rows, ${folded.size} folded accounts`,
    problems,
  };
}

/** No 5xx, but 503s while the database was down (with a grace period) or for an overloaded instance. */
export function checkAnswers(answers: readonly Answer[], faults: readonly InjectedFault[], graceMs: number): InvariantResult {
  const outages = faults.filter((fault) => fault.databaseDown === true);
  const problems: string[] = [];
  let allowed = 0;
  for (const answer of answers) {
    if (answer.status < 500) continue;
    const overloaded = answer.status === 503 && /refused \(|overload|shutting/i.test(answer.message);
    const databaseDown =
      answer.status === 503 && outages.some((fault) => answer.at >= fault.startedAt && answer.at <= fault.endedAt + graceMs);
    if (overloaded || databaseDown) allowed += 1;
    else problems.push(`${answer.status} at ${new Date(answer.at).toISOString()}: ${answer.message}`);
  }
  return {
    name: 'no 5xx except 503 while the database was down or an instance overloaded',
    ok: problems.length === 0,
    detail: `${answers.length} answers, ${allowed} allowed 503s, ${problems.length} other 5xx`,
    problems: problems.slice(0, 20),
  };
}
