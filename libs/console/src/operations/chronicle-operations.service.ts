import {
  ConfigurationError,
  InvalidArgumentError,
  projectionSubscriptionName,
  systemClock,
  type Checkpoint,
  type Chronicle,
  type ChronicleStorage,
  type Clock,
  type CommandRecord,
  type FeedBlocker,
  type OutboxEntry,
  type OutboxStats,
  type OverdueDeadlines,
  type ParkedEvent,
  type RebuildProgress,
  type RecordedEvent,
  type SagaDeadline,
  type SagaInstance,
  type SagaStatus,
  type StreamInfo,
} from '@chronicle/core';
import { OperationsNotFoundError } from '../errors/operations-not-found.error.js';
import { OPERATIONS_LIMITS } from './operations-limits.js';

/** What {@link ChronicleOperations} reads and acts on. */
export interface ChronicleOperationsConfig<Tx = unknown> {
  /** The stores: `createTypeOrmStorage(dataSource)` or `createInMemoryStorage()`, or a running runtime's `chronicle.storage`. */
  storage: ChronicleStorage<Tx>;
  /**
   * The application's runtime, when there is one in this process: its projections' code is what a
   * rebuild replays into, and its state shows on the overview. Without it everything but
   * `rebuild` works (the CLI with the application down).
   */
  chronicle?: Chronicle<Tx>;
  /** Time source of ages and throughput windows. @default systemClock */
  clock?: Clock;
}

/** A page of rows, and where the next one starts (undefined: this is the last page). */
export interface OperationsPage<T, Next = string> {
  /** The rows of this page. */
  items: T[];
  /** Pass it back (`after`, `beforePosition` or `page`) to read the next page; undefined on the last page. */
  next?: Next;
}

/** A count that stopped at a limit: `atLeast` is true when there may be more. */
export interface BoundedCount {
  /** What was counted (at most the limit). */
  count: number;
  /** The count stopped at its limit: there may be more. */
  atLeast: boolean;
}

/** One subscription (projection or saga) as the console shows it. */
export interface SubscriptionOverview {
  /** The checkpoint name: `projection:<name>` or `saga:<name>`. */
  name: string;
  /** From the name's prefix: `projection:`, `saga:`, or neither. */
  kind: 'projection' | 'saga' | 'other';
  /** The projection's or saga's own name (the checkpoint name without its kind). */
  shortName: string;
  /** The feed cursor the subscription has passed (null: not started). */
  position: string | null;
  /** Events committed after `position` (counted up to `OPERATIONS_LIMITS.lagCountLimit`). */
  lag: BoundedCount;
  /** When the oldest event not yet passed was written; undefined when caught up. */
  oldestUnreadAt?: Date;
  /** The instance holding a valid lease, or null when none does. */
  leaseOwner: string | null;
  /** When that lease runs out (null when no lease is valid). */
  leaseUntil: Date | null;
  /** Parked events (failed or held), counted up to `OPERATIONS_LIMITS.countLimit`. */
  parked: BoundedCount;
  /** The last failure recorded on the checkpoint. */
  lastError: string | null;
  /** When the checkpoint last changed. */
  updatedAt: Date;
  /** A projection whose code this process has and that implements `clear(tx)`. */
  rebuildable: boolean;
}

/** The overview page: health and backlog in one read. */
export interface OperationsOverview {
  /** When the figures were read. */
  at: Date;
  /** The runtime's state in this process, or `'absent'` (the CLI). */
  runtime: string;
  /** The highest global position written so far. */
  headPosition: number;
  /** The transaction holding the feed back (PostgreSQL), if any. */
  feedBlocker?: FeedBlocker;
  /** Events written in the last minute and the last hour, counted among the latest `throughputSample` events. */
  throughput: { lastMinute: BoundedCount; lastHour: BoundedCount };
  /** Backlog and dead letters per outbox handler. */
  outbox: OutboxStats[];
  /** Every subscription with a checkpoint. */
  subscriptions: SubscriptionOverview[];
  /** Per saga: instances by status (bounded counts) and overdue deadlines. */
  sagas: Array<{ saga: string; active: BoundedCount; completed: BoundedCount; overdueDeadlines: number }>;
}

/** A stream found by {@link ChronicleOperations.findStreams}. */
export type StreamSummary = StreamInfo;

/** How {@link ChronicleOperations.findStreams} searches. */
export interface FindStreamsQuery {
  /** Stream ids starting with this text (an exact id is found too). @default every stream */
  prefix?: string;
  /** Only streams of this aggregate type. */
  aggregateType?: string;
  /** Ids sorting after this one: the `next` of the previous page. */
  after?: string;
  /** @default OPERATIONS_LIMITS.defaultPageSize */
  pageSize?: number;
}

/** Which events of a stream {@link ChronicleOperations.streamEvents} returns. */
export interface StreamEventsQuery {
  /** The first version to show. @default 1 */
  fromVersion?: number;
  /** @default OPERATIONS_LIMITS.defaultPageSize */
  pageSize?: number;
}

/** A stream with one page of its events; `next` is the version the next page starts from. */
export interface StreamEventsPage extends OperationsPage<RecordedEvent, number> {
  /** The stream's bookkeeping (version, aggregate type, deletions). */
  stream: StreamInfo;
}

/** An outbox handler's backlog with one page of its dead letters. */
export interface OutboxHandlerView {
  /** The handler's backlog. */
  stats: OutboxStats;
  /** The first page of its entries under a lease (who holds them, until when). */
  leased: OperationsPage<OutboxEntry, number>;
  /** One page of its dead letters, oldest first. */
  deadLetters: OperationsPage<OutboxEntry, number>;
}

/** A saga instance with its pending deadlines. */
export interface SagaInstanceView {
  /** The instance as stored (state, status, versions, times). */
  instance: SagaInstance;
  /** Its deadlines not yet fired. */
  deadlines: SagaDeadline[];
}

/** Progress of a rebuild, with the feed's length when it started (an estimate: positions can skip). */
export interface OperationsRebuildProgress extends RebuildProgress {
  /** The head position when the rebuild started. */
  total: number;
}

/** What {@link ChronicleOperations.rebuild} ended with. */
export interface OperationsRebuildResult extends OperationsRebuildProgress {
  /** The projection's name. */
  projection: string;
  /** When the rebuild started. */
  startedAt: Date;
  /** When it committed. */
  finishedAt: Date;
}

const SUBSCRIPTION_KINDS = ['projection', 'saga'] as const;

/**
 * What an operator sees and does, over the storage ports alone: the overview, streams and their
 * events, the latest events, the outbox and its dead letters (re-drive), subscriptions and their
 * parked events (re-drive, projection rebuild), saga instances and their deadlines, and command
 * outcomes. Framework-free: the console module and the `chronicle` CLI both use it.
 *
 * Every list is a page of at most `OPERATIONS_LIMITS.maxPageSize` rows. Every argument is checked
 * before any read: a bad one fails with `InvalidArgumentError` naming it; something that does not
 * exist fails with `OperationsNotFoundError`. Actions change only what their port method changes
 * (a re-drive marks rows pending again; it never deletes).
 */
export class ChronicleOperations<Tx = unknown> {
  private readonly storage: ChronicleStorage<Tx>;
  private readonly chronicle: Chronicle<Tx> | undefined;
  private readonly clock: Clock;

  constructor(config: ChronicleOperationsConfig<Tx>) {
    if (config === null || typeof config !== 'object' || typeof config.storage?.journal?.readStream !== 'function') {
      throw new ConfigurationError(
        'ChronicleOperations needs `storage`: createTypeOrmStorage(dataSource), createInMemoryStorage() or a runtime\'s chronicle.storage.',
      );
    }
    this.storage = config.storage;
    this.chronicle = config.chronicle;
    this.clock = config.clock ?? systemClock;
  }

  /** Health, throughput, outbox backlog, subscription lag and sagas by status, in one read. */
  async overview(): Promise<OperationsOverview> {
    const at = this.clock.now();
    const [headPosition, feedBlocker, outbox, subscriptions, overdue, latest] = await Promise.all([
      this.storage.journal.headPosition(),
      this.storage.journal.feedBlocker(),
      this.storage.outbox.stats(),
      this.subscriptions(),
      this.storage.sagas.overdueDeadlines(),
      this.storage.journal.readLatest({ limit: OPERATIONS_LIMITS.throughputSample }),
    ]);
    const sagaNames = this.namesOfSagas(subscriptions);
    const sagas = await Promise.all(
      sagaNames.map(async (saga) => ({
        saga,
        active: await this.countSagas(saga, 'active'),
        completed: await this.countSagas(saga, 'completed'),
        overdueDeadlines: overdue.find((entry: OverdueDeadlines) => entry.sagaName === saga)?.count ?? 0,
      })),
    );
    const since = (ms: number): BoundedCount => {
      const count = latest.filter((event) => at.getTime() - event.occurredAt.getTime() <= ms).length;
      return { count, atLeast: count === latest.length && latest.length === OPERATIONS_LIMITS.throughputSample };
    };
    return {
      at,
      runtime: this.chronicle?.state ?? 'absent',
      headPosition,
      ...(feedBlocker === undefined ? {} : { feedBlocker }),
      throughput: { lastMinute: since(60_000), lastHour: since(3_600_000) },
      outbox,
      subscriptions,
      sagas,
    };
  }

  /** Streams by id prefix and aggregate type, in id order (code points), a page at a time. */
  async findStreams(query: FindStreamsQuery = {}): Promise<OperationsPage<StreamSummary>> {
    const prefix = optionalText('prefix', query.prefix);
    const aggregateType = optionalText('aggregateType', query.aggregateType);
    const after = optionalText('after', query.after);
    const pageSize = pageSizeOf(query.pageSize);
    const { journal } = this.storage;
    const ids: string[] = [];
    // Ids sharing a prefix are contiguous in code point order, right after the prefix itself.
    if (prefix !== undefined && after === undefined) {
      const exact = await journal.streamInfo(prefix);
      if (exact && (aggregateType === undefined || exact.aggregateType === aggregateType)) ids.push(prefix);
    }
    const start = after ?? prefix;
    const listed = await journal.listStreams({
      ...(aggregateType === undefined ? {} : { aggregateType }),
      ...(start === undefined || start === '' ? {} : { after: start }),
      limit: pageSize + 1,
    });
    for (const id of listed) {
      if (prefix !== undefined && !id.startsWith(prefix)) break;
      ids.push(id);
    }
    const page = ids.slice(0, pageSize);
    const infos = await Promise.all(page.map((id) => journal.streamInfo(id)));
    const items = infos.filter((info): info is StreamInfo => info !== undefined);
    return ids.length > pageSize ? { items, next: page[page.length - 1]! } : { items };
  }

  /** A stream's bookkeeping and one page of its events, in version order (logically deleted ones skipped). */
  async streamEvents(streamId: string, query: StreamEventsQuery = {}): Promise<StreamEventsPage> {
    requiredText('streamId', streamId);
    const fromVersion = query.fromVersion === undefined ? 1 : integer('fromVersion', query.fromVersion, 1);
    const pageSize = pageSizeOf(query.pageSize);
    const stream = await this.storage.journal.streamInfo(streamId);
    if (!stream) throw new OperationsNotFoundError('stream', streamId);
    const events = await this.storage.journal.readStream(streamId, { fromVersion, limit: pageSize + 1 });
    const items = events.slice(0, pageSize);
    return events.length > pageSize ? { stream, items, next: events[pageSize]!.version } : { stream, items };
  }

  /** The latest events of the whole journal, newest first; `next` is the `beforePosition` of the older page. */
  async latestEvents(query: { beforePosition?: number; pageSize?: number } = {}): Promise<OperationsPage<RecordedEvent, number>> {
    const pageSize = pageSizeOf(query.pageSize);
    const beforePosition = query.beforePosition === undefined ? undefined : integer('beforePosition', query.beforePosition, 1);
    const events = await this.storage.journal.readLatest({
      limit: pageSize + 1,
      ...(beforePosition === undefined ? {} : { beforePosition }),
    });
    const items = events.slice(0, pageSize);
    return events.length > pageSize ? { items, next: items[items.length - 1]!.position } : { items };
  }

  /** Backlog per outbox handler (pending, leased, dead-lettered, oldest pending), or of one handler. */
  async outbox(query: { handler?: string } = {}): Promise<OutboxStats[]> {
    const handler = optionalText('handler', query.handler);
    return this.storage.outbox.stats(handler);
  }

  /**
   * Dead-lettered outbox entries, oldest first, with their error and attempts: of one handler or of
   * all. `page` counts from 1; `next` is the next page's number.
   */
  async deadLetters(query: { handler?: string; page?: number; pageSize?: number } = {}): Promise<OperationsPage<OutboxEntry, number>> {
    const handler = optionalText('handler', query.handler);
    const { page, pageSize } = offsetPage(query.page, query.pageSize);
    const rows = await this.storage.outbox.deadLetters(handler, page * pageSize + 1);
    const items = rows.slice((page - 1) * pageSize, page * pageSize);
    return rows.length > page * pageSize ? { items, next: page + 1 } : { items };
  }

  /**
   * Outbox entries under an unexpired lease, with the relay holding each and until when: of one
   * handler or of all, soonest expiry first. `page` counts from 1.
   */
  async leased(query: { handler?: string; page?: number; pageSize?: number } = {}): Promise<OperationsPage<OutboxEntry, number>> {
    const handler = optionalText('handler', query.handler);
    const { page, pageSize } = offsetPage(query.page, query.pageSize);
    const rows = await this.storage.outbox.leased(handler, page * pageSize + 1);
    const items = rows.slice((page - 1) * pageSize, page * pageSize);
    return rows.length > page * pageSize ? { items, next: page + 1 } : { items };
  }

  /** One handler's backlog and a page of its dead letters; `OperationsNotFoundError` for a handler never registered. */
  async outboxHandler(handler: string, query: { page?: number; pageSize?: number } = {}): Promise<OutboxHandlerView> {
    requiredText('handler', handler);
    const [stats] = await this.storage.outbox.stats(handler);
    if (!stats && !(await this.storage.outbox.handlerState(handler))) throw new OperationsNotFoundError('outbox handler', handler);
    return {
      stats: stats ?? { handler, pending: 0, leased: 0, deadLettered: 0 },
      leased: await this.leased({ handler, ...(query.pageSize === undefined ? {} : { pageSize: query.pageSize }) }),
      deadLetters: await this.deadLetters({ handler, ...query }),
    };
  }

  /**
   * Makes dead-lettered entries of `handler` pending again with their attempts reset: the ones
   * named by `ids`, or all of them. Returns how many; the relay publishes them on its next claim.
   */
  async redrive(handler: string, ids?: readonly string[]): Promise<number> {
    requiredText('handler', handler);
    if (ids !== undefined) {
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > OPERATIONS_LIMITS.maxPageSize) {
        throw new InvalidArgumentError('ids', ids, `a list of 1 to ${OPERATIONS_LIMITS.maxPageSize} outbox entry ids (omit it to re-drive all)`);
      }
      ids.forEach((id, index) => requiredText(`ids[${index}]`, id));
    }
    if (!(await this.storage.outbox.handlerState(handler))) throw new OperationsNotFoundError('outbox handler', handler);
    return this.storage.outbox.redrive(handler, ids);
  }

  /** Every subscription with a checkpoint: position, lag behind the head, lease holder, parked count, last error. */
  async subscriptions(): Promise<SubscriptionOverview[]> {
    const checkpoints = await this.storage.checkpoints.list();
    return Promise.all(checkpoints.map((checkpoint) => this.describeSubscription(checkpoint)));
  }

  /** One subscription; `OperationsNotFoundError` when it has no checkpoint. */
  async subscription(name: string): Promise<SubscriptionOverview> {
    requiredText('name', name);
    const checkpoint = await this.storage.checkpoints.load(name);
    if (!checkpoint) throw new OperationsNotFoundError('subscription', name, 'Subscription names are `projection:<name>` or `saga:<name>`.');
    return this.describeSubscription(checkpoint);
  }

  /** Parked events of a subscription, by stream and version, with their error. `page` counts from 1. */
  async parked(name: string, query: { page?: number; pageSize?: number; streamId?: string } = {}): Promise<OperationsPage<ParkedEvent, number>> {
    requiredText('name', name);
    const streamId = optionalText('streamId', query.streamId);
    const { page, pageSize } = offsetPage(query.page, query.pageSize);
    await this.subscription(name);
    const rows = await this.storage.checkpoints.parked(name, { limit: page * pageSize + 1, ...(streamId === undefined ? {} : { streamId }) });
    const items = rows.slice((page - 1) * pageSize, page * pageSize);
    return rows.length > page * pageSize ? { items, next: page + 1 } : { items };
  }

  /**
   * Asks for the parked events of one stream (or all) of a subscription to be delivered again;
   * returns how many. The runner holding the lease, in whichever process, re-delivers them.
   */
  async redriveParked(name: string, streamId?: string): Promise<number> {
    requiredText('name', name);
    const stream = optionalText('streamId', streamId);
    await this.subscription(name);
    const runner = this.chronicle?.subscriptions.get(name);
    // The local runner is woken at once; without one, the lease holder finds the request on its next check.
    return runner ? runner.redrive(stream) : this.storage.checkpoints.requestRedrive(name, stream);
  }

  /**
   * Rebuilds projection `projection` (its name, or `projection:<name>`) from the start of the
   * journal in one transaction, reporting progress after each page. Needs the projection's code:
   * the runtime given to the constructor must hold it and it must implement `clear(tx)`.
   */
  async rebuild(projection: string, onProgress?: (progress: OperationsRebuildProgress) => void): Promise<OperationsRebuildResult> {
    requiredText('projection', projection);
    const name = projection.startsWith('projection:') ? projection.slice('projection:'.length) : projection;
    if (!this.chronicle) {
      throw new ConfigurationError(
        `Rebuilding projection "${name}" needs its code: give ChronicleOperations the application's runtime (\`chronicle\`), which holds the projection.`,
      );
    }
    const handler = this.chronicle.projections.get(name);
    const runner = this.chronicle.subscriptions.get(projectionSubscriptionName(name));
    if (!handler || !runner) throw new OperationsNotFoundError('projection', name, 'Only projections this application declares can be rebuilt.');
    if (!handler.rebuildable) throw new ConfigurationError(`Projection "${name}" cannot be rebuilt: implement clear(tx) to empty its read model.`);
    const startedAt = this.clock.now();
    const total = await this.storage.journal.headPosition();
    const result = await runner.rebuild((tx) => handler.clear(tx), (progress) => onProgress?.({ ...progress, total }));
    return { ...result, total, projection: name, startedAt, finishedAt: this.clock.now() };
  }

  /** Instances of a saga by correlation id, optionally of one status; `next` is the `after` of the next page. */
  async sagas(query: { saga: string; status?: SagaStatus; after?: string; pageSize?: number }): Promise<OperationsPage<SagaInstance>> {
    const saga = requiredText('saga', query?.saga);
    if (query.status !== undefined && query.status !== 'active' && query.status !== 'completed') {
      throw new InvalidArgumentError('status', query.status, "'active' or 'completed'");
    }
    const after = optionalText('after', query.after);
    const pageSize = pageSizeOf(query.pageSize);
    const rows = await this.storage.sagas.list(saga, {
      limit: pageSize + 1,
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(after === undefined ? {} : { after }),
    });
    const items = rows.slice(0, pageSize);
    return rows.length > pageSize ? { items, next: items[items.length - 1]!.correlationId } : { items };
  }

  /** The names of the sagas known to the store (their checkpoints) or to the runtime. */
  async sagaNames(): Promise<string[]> {
    const checkpoints = await this.storage.checkpoints.list();
    return this.namesOfSagas(checkpoints.map((checkpoint) => ({ name: checkpoint.name })));
  }

  /** One saga instance with its pending deadlines; `OperationsNotFoundError` when there is none. */
  async saga(saga: string, correlationId: string): Promise<SagaInstanceView> {
    requiredText('saga', saga);
    requiredText('correlationId', correlationId);
    const instance = await this.storage.sagas.load(saga, correlationId);
    if (!instance) throw new OperationsNotFoundError('saga instance', `${saga}/${correlationId}`);
    return { instance, deadlines: await this.storage.sagas.deadlines(saga, correlationId) };
  }

  /** The recorded outcome of a command (accepted with its versions, or rejected with its error). */
  async commandOutcome(commandId: string): Promise<CommandRecord> {
    requiredText('commandId', commandId);
    const record = await this.storage.journal.findCommand(commandId);
    if (!record) throw new OperationsNotFoundError('command', commandId, 'Outcomes are kept until pruned; check the id.');
    return record;
  }

  private namesOfSagas(subscriptions: ReadonlyArray<{ name: string }>): string[] {
    const names = new Set<string>();
    for (const { name } of subscriptions) if (name.startsWith('saga:')) names.add(name.slice('saga:'.length));
    for (const name of this.chronicle?.sagas.keys() ?? []) names.add(name);
    return [...names].sort();
  }

  private async countSagas(saga: string, status: SagaStatus): Promise<BoundedCount> {
    const rows = await this.storage.sagas.list(saga, { status, limit: OPERATIONS_LIMITS.countLimit + 1 });
    return bounded(rows.length, OPERATIONS_LIMITS.countLimit);
  }

  private async describeSubscription(checkpoint: Checkpoint): Promise<SubscriptionOverview> {
    const kind = SUBSCRIPTION_KINDS.find((candidate) => checkpoint.name.startsWith(`${candidate}:`)) ?? 'other';
    const shortName = kind === 'other' ? checkpoint.name : checkpoint.name.slice(kind.length + 1);
    const [behind, parked] = await Promise.all([
      this.storage.journal.readAll(checkpoint.position, OPERATIONS_LIMITS.lagCountLimit + 1),
      this.storage.checkpoints.parked(checkpoint.name, { limit: OPERATIONS_LIMITS.countLimit + 1 }),
    ]);
    const leaseValid = checkpoint.leaseUntil !== null && checkpoint.leaseUntil.getTime() > this.clock.now().getTime();
    const handler = kind === 'projection' ? this.chronicle?.projections.get(shortName) : undefined;
    const oldest = behind.events[0];
    return {
      name: checkpoint.name,
      kind,
      shortName,
      position: checkpoint.position,
      lag: bounded(behind.events.length, OPERATIONS_LIMITS.lagCountLimit),
      ...(oldest === undefined ? {} : { oldestUnreadAt: oldest.occurredAt }),
      leaseOwner: leaseValid ? checkpoint.leaseOwner : null,
      leaseUntil: leaseValid ? checkpoint.leaseUntil : null,
      parked: bounded(parked.length, OPERATIONS_LIMITS.countLimit),
      lastError: checkpoint.lastError,
      updatedAt: checkpoint.updatedAt,
      rebuildable: handler?.rebuildable === true,
    };
  }
}

function bounded(found: number, limit: number): BoundedCount {
  return found > limit ? { count: limit, atLeast: true } : { count: found, atLeast: false };
}

function integer(argument: string, value: unknown, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= minimum && value <= maximum) return value;
  throw new InvalidArgumentError(argument, value, `an integer from ${minimum} to ${maximum}`);
}

function pageSizeOf(value: unknown): number {
  return value === undefined ? OPERATIONS_LIMITS.defaultPageSize : integer('pageSize', value, 1, OPERATIONS_LIMITS.maxPageSize);
}

function offsetPage(page: unknown, pageSize: unknown): { page: number; pageSize: number } {
  return {
    page: page === undefined ? 1 : integer('page', page, 1, OPERATIONS_LIMITS.maxOffsetPage),
    pageSize: pageSizeOf(pageSize),
  };
}

function requiredText(argument: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > OPERATIONS_LIMITS.maxIdLength) {
    throw new InvalidArgumentError(argument, value, `a non-empty string of at most ${OPERATIONS_LIMITS.maxIdLength} characters`);
  }
  return value;
}

function optionalText(argument: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > OPERATIONS_LIMITS.maxIdLength) {
    throw new InvalidArgumentError(argument, value, `a string of at most ${OPERATIONS_LIMITS.maxIdLength} characters, or nothing`);
  }
  return value === '' ? undefined : value;
}
