import type { CommandRecord, OutboxEntry, OutboxStats, ParkedEvent, RecordedEvent, SagaDeadline, SagaInstance, StreamInfo } from '@chronicle/core';
import type {
  BoundedCount,
  OperationsOverview,
  OperationsRebuildResult,
  SubscriptionOverview,
} from '../operations/chronicle-operations.service.js';

// The `--json` output of every command: one document on stdout, these shapes, version 1. Dates are
// ISO 8601 strings; a field that does not apply is null, never absent, so that scripts can rely on
// every key. A change to these shapes is a breaking change of the package (they are in its API
// report). Lists are pages: `next` is what to pass to read the next one, null on the last page.

/** A page of a list command (`streams`, `events`, `feed`, `outbox --dead`, `parked`, `sagas --saga`). */
export interface CliPageJson<T, Next = string | number> {
  items: T[];
  /** The value of the paging option (`--after`, `--from`, `--before` or `--page`) that reads the next page; null on the last. */
  next: Next | null;
}

/** A stream (`streams`; the `stream` of `events`). */
export interface CliStreamJson {
  streamId: string;
  aggregateType: string;
  /** Highest version ever written. */
  version: number;
  /** Events at or below this version are logically deleted (0: none). */
  deletedUpTo: number;
}

/** An event (`events`, `feed`). */
export interface CliEventJson {
  position: number;
  streamId: string;
  aggregateType: string;
  version: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  occurredAt: string;
  /** Command, correlation and causation ids, and whatever else the application stored. */
  metadata: Record<string, unknown>;
  tags: string[];
  payload: unknown;
}

/** `events <stream>`: the stream and a page of its events; `next` is the `--from` version of the next page. */
export interface CliStreamEventsJson extends CliPageJson<CliEventJson, number> {
  stream: CliStreamJson;
}

/** An outbox handler's backlog (`status`, `outbox`). */
export interface CliOutboxStatsJson {
  handler: string;
  pending: number;
  leased: number;
  deadLettered: number;
  oldestPendingAt: string | null;
}

/** An outbox entry (`outbox --dead`). */
export interface CliOutboxEntryJson {
  id: string;
  handler: string;
  streamId: string;
  aggregateType: string;
  aggregateId: string;
  version: number;
  eventId: string;
  eventType: string;
  occurredAt: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string;
  leaseOwner: string | null;
  leaseUntil: string | null;
  deadLetteredAt: string | null;
  metadata: Record<string, unknown>;
  payload: unknown;
}

/** A subscription: projection or saga (`status`, `subscriptions`). */
export interface CliSubscriptionJson {
  /** `projection:<name>` or `saga:<name>`. */
  name: string;
  kind: 'projection' | 'saga' | 'other';
  shortName: string;
  position: string | null;
  lag: BoundedCount;
  oldestUnreadAt: string | null;
  /** The instance holding a valid lease, null when none does. */
  leaseOwner: string | null;
  leaseUntil: string | null;
  parked: BoundedCount;
  lastError: string | null;
  updatedAt: string;
  /** True only with `--app` (the CLI then has the projection's code). */
  rebuildable: boolean;
}

/** Per saga: instances by status (`status`, `sagas`). */
export interface CliSagaSummaryJson {
  saga: string;
  active: BoundedCount;
  completed: BoundedCount;
  overdueDeadlines: number;
}

/** `status`: health and backlog in one read. */
export interface CliStatusJson {
  at: string;
  /** The runtime's state with `--app`, `'absent'` otherwise (the CLI reads the database directly). */
  runtime: string;
  headPosition: number;
  /** The transaction holding the feed back (PostgreSQL), or null. */
  feedBlocker: { transactionId: string; pid: number | null; startedAt: string | null; state: string | null; query: string | null } | null;
  throughput: { lastMinute: BoundedCount; lastHour: BoundedCount };
  outbox: CliOutboxStatsJson[];
  subscriptions: CliSubscriptionJson[];
  sagas: CliSagaSummaryJson[];
}

/** A parked event of a subscription (`parked`). */
export interface CliParkedEventJson {
  subscription: string;
  eventId: string;
  streamId: string;
  version: number;
  position: number;
  type: string;
  reason: 'failed' | 'held';
  error: string | null;
  attempts: number;
  parkedAt: string;
  redriveRequestedAt: string | null;
}

/** A saga instance (`sagas --saga`, `saga`). */
export interface CliSagaInstanceJson {
  sagaName: string;
  correlationId: string;
  status: string;
  version: number;
  stateVersion: number;
  startedAt: string;
  updatedAt: string;
  endedAt: string | null;
  state: unknown;
}

/** A pending deadline of a saga instance (`saga`). */
export interface CliSagaDeadlineJson {
  id: string;
  name: string;
  dueAt: string;
  attempts: number;
  lastError: string | null;
  parkedAt: string | null;
  payload: unknown;
}

/** `saga <saga> <correlationId>`: the instance and its pending deadlines. */
export interface CliSagaJson {
  instance: CliSagaInstanceJson;
  deadlines: CliSagaDeadlineJson[];
}

/** `command <commandId>`: the recorded outcome. */
export interface CliCommandJson {
  commandId: string;
  streamId: string;
  aggregateType: string;
  recordedAt: string;
  outcome: 'accepted' | 'rejected';
  /** Accepted: the versions its events took, and the feed cursor after them (null when not recorded). */
  fromVersion: number | null;
  toVersion: number | null;
  cursor: string | null;
  /** Rejected: the error as recorded. */
  error: { name: string; code: string; message: string } | null;
}

/** `redrive`: dead letters of a handler made pending again. */
export interface CliRedriveJson {
  handler: string;
  /** The ids asked for, or `'all'`. */
  requested: string[] | 'all';
  /** How many entries were dead-lettered and are now pending. */
  redriven: number;
}

/** `redrive-parked`: a re-drive of parked events requested. */
export interface CliParkedRedriveJson {
  subscription: string;
  /** The one stream asked for, or null for all. */
  streamId: string | null;
  /** How many parked events were asked to be delivered again. */
  redriven: number;
}

/** `rebuild`: what the rebuild read, handled and parked, and where the projection now stands. */
export interface CliRebuildJson {
  projection: string;
  read: number;
  handled: number;
  parked: number;
  position: string | null;
  /** The head position when the rebuild started (an estimate of the events to read). */
  total: number;
  startedAt: string;
  finishedAt: string;
}

/** What every failing command writes to stderr with `--json`. */
export interface CliErrorJson {
  error: { name: string; code: string; message: string; exitCode: number };
}

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

/** The `--json` form of stream. */
export function streamJson(stream: StreamInfo): CliStreamJson {
  return { streamId: stream.streamId, aggregateType: stream.aggregateType, version: stream.version, deletedUpTo: stream.deletedUpTo };
}

/** The `--json` form of event. */
export function eventJson(event: RecordedEvent): CliEventJson {
  return {
    position: event.position,
    streamId: event.streamId,
    aggregateType: event.aggregateType,
    version: event.version,
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    occurredAt: event.occurredAt.toISOString(),
    metadata: { ...event.metadata },
    tags: [...event.tags],
    payload: event.payload,
  };
}

/** The `--json` form of outboxStats. */
export function outboxStatsJson(stats: OutboxStats): CliOutboxStatsJson {
  return { handler: stats.handler, pending: stats.pending, leased: stats.leased, deadLettered: stats.deadLettered, oldestPendingAt: iso(stats.oldestPendingAt) };
}

/** The `--json` form of outboxEntry. */
export function outboxEntryJson(entry: OutboxEntry): CliOutboxEntryJson {
  return {
    id: entry.id,
    handler: entry.handler,
    streamId: entry.streamId,
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    version: entry.version,
    eventId: entry.eventId,
    eventType: entry.eventType,
    occurredAt: entry.occurredAt.toISOString(),
    attempts: entry.attempts,
    lastError: entry.lastError ?? null,
    nextAttemptAt: entry.nextAttemptAt.toISOString(),
    leaseOwner: entry.leaseOwner ?? null,
    leaseUntil: iso(entry.leaseUntil),
    deadLetteredAt: iso(entry.deadLetteredAt),
    metadata: { ...entry.metadata },
    payload: entry.payload,
  };
}

/** The `--json` form of subscription. */
export function subscriptionJson(subscription: SubscriptionOverview): CliSubscriptionJson {
  return {
    name: subscription.name,
    kind: subscription.kind,
    shortName: subscription.shortName,
    position: subscription.position,
    lag: { ...subscription.lag },
    oldestUnreadAt: iso(subscription.oldestUnreadAt),
    leaseOwner: subscription.leaseOwner,
    leaseUntil: iso(subscription.leaseUntil),
    parked: { ...subscription.parked },
    lastError: subscription.lastError,
    updatedAt: subscription.updatedAt.toISOString(),
    rebuildable: subscription.rebuildable,
  };
}

/** The `--json` form of status. */
export function statusJson(overview: OperationsOverview): CliStatusJson {
  return {
    at: overview.at.toISOString(),
    runtime: overview.runtime,
    headPosition: overview.headPosition,
    feedBlocker:
      overview.feedBlocker === undefined
        ? null
        : {
            transactionId: overview.feedBlocker.transactionId,
            pid: overview.feedBlocker.pid ?? null,
            startedAt: iso(overview.feedBlocker.startedAt),
            state: overview.feedBlocker.state ?? null,
            query: overview.feedBlocker.query ?? null,
          },
    throughput: { lastMinute: { ...overview.throughput.lastMinute }, lastHour: { ...overview.throughput.lastHour } },
    outbox: overview.outbox.map(outboxStatsJson),
    subscriptions: overview.subscriptions.map(subscriptionJson),
    sagas: overview.sagas.map((saga) => ({ saga: saga.saga, active: { ...saga.active }, completed: { ...saga.completed }, overdueDeadlines: saga.overdueDeadlines })),
  };
}

/** The `--json` form of parked. */
export function parkedJson(parked: ParkedEvent): CliParkedEventJson {
  return {
    subscription: parked.subscription,
    eventId: parked.eventId,
    streamId: parked.streamId,
    version: parked.version,
    position: parked.position,
    type: parked.type,
    reason: parked.reason,
    error: parked.error,
    attempts: parked.attempts,
    parkedAt: parked.parkedAt.toISOString(),
    redriveRequestedAt: iso(parked.redriveRequestedAt),
  };
}

/** The `--json` form of sagaInstance. */
export function sagaInstanceJson(instance: SagaInstance): CliSagaInstanceJson {
  return {
    sagaName: instance.sagaName,
    correlationId: instance.correlationId,
    status: instance.status,
    version: instance.version,
    stateVersion: instance.stateVersion,
    startedAt: instance.startedAt.toISOString(),
    updatedAt: instance.updatedAt.toISOString(),
    endedAt: iso(instance.endedAt),
    state: instance.state,
  };
}

/** The `--json` form of sagaDeadline. */
export function sagaDeadlineJson(deadline: SagaDeadline): CliSagaDeadlineJson {
  return {
    id: deadline.id,
    name: deadline.name,
    dueAt: deadline.dueAt.toISOString(),
    attempts: deadline.attempts,
    lastError: deadline.lastError,
    parkedAt: iso(deadline.parkedAt),
    payload: deadline.payload,
  };
}

/** The `--json` form of command. */
export function commandJson(record: CommandRecord): CliCommandJson {
  const { outcome } = record;
  return {
    commandId: record.commandId,
    streamId: record.streamId,
    aggregateType: record.aggregateType,
    recordedAt: record.recordedAt.toISOString(),
    outcome: outcome.kind,
    fromVersion: outcome.kind === 'accepted' ? outcome.fromVersion : null,
    toVersion: outcome.kind === 'accepted' ? outcome.toVersion : null,
    cursor: outcome.kind === 'accepted' ? (outcome.cursor ?? null) : null,
    error: outcome.kind === 'rejected' ? { name: outcome.error.name, code: outcome.error.code, message: outcome.error.message } : null,
  };
}

/** The `--json` form of rebuild. */
export function rebuildJson(result: OperationsRebuildResult): CliRebuildJson {
  return {
    projection: result.projection,
    read: result.read,
    handled: result.handled,
    parked: result.parked,
    position: result.position,
    total: result.total,
    startedAt: result.startedAt.toISOString(),
    finishedAt: result.finishedAt.toISOString(),
  };
}
