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
  /** The rows of this page. */
  items: T[];
  /** The value of the paging option (`--after`, `--from`, `--before` or `--page`) that reads the next page; null on the last. */
  next: Next | null;
}

/** A stream (`streams`; the `stream` of `events`). */
export interface CliStreamJson {
  /** The stream id. */
  streamId: string;
  /** The aggregate type of the stream. */
  aggregateType: string;
  /** Highest version ever written. */
  version: number;
  /** Events at or below this version are logically deleted (0: none). */
  deletedUpTo: number;
}

/** An event (`events`, `feed`). */
export interface CliEventJson {
  /** Global position in the journal. */
  position: number;
  /** The stream id. */
  streamId: string;
  /** The aggregate type of the stream. */
  aggregateType: string;
  /** The version in its stream (1-based). */
  version: number;
  /** Unique id of the event. */
  eventId: string;
  /** The event's type name. */
  type: string;
  /** Schema version of the payload. */
  schemaVersion: number;
  /** When the event occurred. */
  occurredAt: string;
  /** Command, correlation and causation ids, and whatever else the application stored. */
  metadata: Record<string, unknown>;
  /** Labels for querying across streams. */
  tags: string[];
  /** The payload as stored. */
  payload: unknown;
}

/** `events <stream>`: the stream and a page of its events; `next` is the `--from` version of the next page. */
export interface CliStreamEventsJson extends CliPageJson<CliEventJson, number> {
  /** The stream the events belong to. */
  stream: CliStreamJson;
}

/** An outbox handler's backlog (`status`, `outbox`). */
export interface CliOutboxStatsJson {
  /** The outbox handler. */
  handler: string;
  /** Entries not yet published and not dead-lettered. */
  pending: number;
  /** Pending entries currently leased by a relay. */
  leased: number;
  /** Dead-lettered entries. */
  deadLettered: number;
  /** When the oldest pending entry occurred, or null. */
  oldestPendingAt: string | null;
}

/** An outbox entry (`outbox --dead`). */
export interface CliOutboxEntryJson {
  /** The entry id (time-sortable; the published message id). */
  id: string;
  /** The outbox handler. */
  handler: string;
  /** The stream id. */
  streamId: string;
  /** The aggregate type of the stream. */
  aggregateType: string;
  /** The aggregate the entry belongs to. */
  aggregateId: string;
  /** The event's version in its stream. */
  version: number;
  /** Unique id of the event. */
  eventId: string;
  /** The event's type name. */
  eventType: string;
  /** When the event occurred. */
  occurredAt: string;
  /** Failed attempts so far. */
  attempts: number;
  /** The last error, or null. */
  lastError: string | null;
  /** Not retried before this time. */
  nextAttemptAt: string;
  /** The relay holding the lease, or null. */
  leaseOwner: string | null;
  /** When the lease runs out, or null. */
  leaseUntil: string | null;
  /** When it was dead-lettered, or null. */
  deadLetteredAt: string | null;
  /** Command, correlation and causation ids, and whatever else the application stored. */
  metadata: Record<string, unknown>;
  /** The payload as stored. */
  payload: unknown;
}

/** A subscription: projection or saga (`status`, `subscriptions`). */
export interface CliSubscriptionJson {
  /** `projection:<name>` or `saga:<name>`. */
  name: string;
  /** Projection or saga. */
  kind: 'projection' | 'saga' | 'other';
  /** The name without its kind. */
  shortName: string;
  /** The feed cursor of the last event passed; null before the first. */
  position: string | null;
  /** Events committed after `position` (counted up to 1000). */
  lag: BoundedCount;
  /** When the oldest event not yet passed was written; null when caught up. */
  oldestUnreadAt: string | null;
  /** The instance holding a valid lease, null when none does. */
  leaseOwner: string | null;
  /** When the lease runs out, or null. */
  leaseUntil: string | null;
  /** Parked events (counted up to 1000). */
  parked: BoundedCount;
  /** The last failure (a parked event, a failed batch), or null. */
  lastError: string | null;
  /** Last change of the checkpoint. */
  updatedAt: string;
  /** True only with `--app` (the CLI then has the projection's code). */
  rebuildable: boolean;
}

/** Per saga: instances by status (`status`, `sagas`). */
export interface CliSagaSummaryJson {
  /** The saga name. */
  saga: string;
  /** Instances in flight. */
  active: BoundedCount;
  /** Completed instances not yet pruned. */
  completed: BoundedCount;
  /** Deadlines past due and not fired. */
  overdueDeadlines: number;
}

/** `status`: health and backlog in one read. */
export interface CliStatusJson {
  /** When the figures were read. */
  at: string;
  /** The runtime's state with `--app`, `'absent'` otherwise (the CLI reads the database directly). */
  runtime: string;
  /** The highest global position written so far. */
  headPosition: number;
  /** The transaction holding the feed back (PostgreSQL), or null. */
  feedBlocker: { transactionId: string; pid: number | null; startedAt: string | null; state: string | null; query: string | null } | null;
  /** Events in the last minute and the last hour (counted among the latest 1000). */
  throughput: { lastMinute: BoundedCount; lastHour: BoundedCount };
  /** Backlog per outbox handler. */
  outbox: CliOutboxStatsJson[];
  /** Every subscription with a checkpoint. */
  subscriptions: CliSubscriptionJson[];
  /** Per saga: instances by status. */
  sagas: CliSagaSummaryJson[];
}

/** A parked event of a subscription (`parked`). */
export interface CliParkedEventJson {
  /** The subscription name. */
  subscription: string;
  /** Unique id of the event. */
  eventId: string;
  /** The stream id. */
  streamId: string;
  /** The event's version in its stream. */
  version: number;
  /** Global position in the journal. */
  position: number;
  /** The event's type name. */
  type: string;
  /** `failed`: its handler kept failing; `held`: it waits behind a parked event of its stream. */
  reason: 'failed' | 'held';
  /** Why it failed (for `held`: which event it waits behind), or null. */
  error: string | null;
  /** Deliveries tried. */
  attempts: number;
  /** When it was parked. */
  parkedAt: string;
  /** When a re-drive was asked for, or null. */
  redriveRequestedAt: string | null;
}

/** A saga instance (`sagas --saga`, `saga`). */
export interface CliSagaInstanceJson {
  /** The saga name. */
  sagaName: string;
  /** The correlation id that routes events to the instance. */
  correlationId: string;
  /** `active` or `completed`. */
  status: string;
  /** Optimistic-concurrency version of the instance. */
  version: number;
  /** Schema version of `state`. */
  stateVersion: number;
  /** When it started. */
  startedAt: string;
  /** Last change. */
  updatedAt: string;
  /** When it completed, or null. */
  endedAt: string | null;
  /** The saga state as stored. */
  state: unknown;
}

/** A pending deadline of a saga instance (`saga`). */
export interface CliSagaDeadlineJson {
  /** `<saga>:<correlation id>:<name>`. */
  id: string;
  /** The deadline name. */
  name: string;
  /** When it fires. */
  dueAt: string;
  /** Failed firings so far. */
  attempts: number;
  /** Why its last firing failed, or null. */
  lastError: string | null;
  /** Set when the deadline failed too often and was parked, else null. */
  parkedAt: string | null;
  /** What the saga scheduled it with. */
  payload: unknown;
}

/** `saga <saga> <correlationId>`: the instance and its pending deadlines. */
export interface CliSagaJson {
  /** The instance. */
  instance: CliSagaInstanceJson;
  /** Its pending deadlines. */
  deadlines: CliSagaDeadlineJson[];
}

/** `command <commandId>`: the recorded outcome. */
export interface CliCommandJson {
  /** The command id. */
  commandId: string;
  /** The stream the command wrote to. */
  streamId: string;
  /** The aggregate type of that stream. */
  aggregateType: string;
  /** When the outcome was recorded. */
  recordedAt: string;
  /** Accepted or rejected. */
  outcome: 'accepted' | 'rejected';
  /** Accepted: the version of its first event; null when rejected. */
  fromVersion: number | null;
  /** Accepted: the version of its last event; null when rejected. */
  toVersion: number | null;
  /** Accepted: the feed cursor after its events, null when not recorded or rejected. */
  cursor: string | null;
  /** Rejected: the error as recorded. */
  error: { name: string; code: string; message: string } | null;
}

/** `redrive`: dead letters of a handler made pending again. */
export interface CliRedriveJson {
  /** The outbox handler. */
  handler: string;
  /** The ids asked for, or `'all'`. */
  requested: string[] | 'all';
  /** How many entries were dead-lettered and are now pending. */
  redriven: number;
}

/** `redrive-parked`: a re-drive of parked events requested. */
export interface CliParkedRedriveJson {
  /** The subscription name. */
  subscription: string;
  /** The one stream asked for, or null for all. */
  streamId: string | null;
  /** How many parked events were asked to be delivered again. */
  redriven: number;
}

/** `rebuild`: what the rebuild read, handled and parked, and where the projection now stands. */
export interface CliRebuildJson {
  /** The projection name. */
  projection: string;
  /** Events read from the feed. */
  read: number;
  /** Events delivered to the projection. */
  handled: number;
  /** Events the rebuild set aside (their handler failed). */
  parked: number;
  /** Where the projection now stands (a feed cursor), or null for an empty journal. */
  position: string | null;
  /** The head position when the rebuild started (an estimate of the events to read). */
  total: number;
  /** When the rebuild started. */
  startedAt: string;
  /** When it committed. */
  finishedAt: string;
}

/** What every failing command writes to stderr with `--json`. */
export interface CliErrorJson {
  /** The error's class name (`CliUsageError` for a wrong call), its code, its message, and the exit code. */
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
