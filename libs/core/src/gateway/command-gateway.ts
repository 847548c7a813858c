import { randomUUID } from 'node:crypto';
import type { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import type { AggregateDefinition, ResolvedCommandHandler } from '../aggregates/aggregate-definition.js';
import { readAggregateId } from '../aggregates/aggregate-id-source.js';
import type { ClassType } from '../aggregates/class-type.js';
import { commandFingerprint } from '../commands/command-fingerprint.js';
import type { CommandMetadata } from '../commands/command-metadata.js';
import type { CommandResult } from '../commands/command-result.js';
import { isRecordableRejection, recordError, reviveError } from '../commands/recorded-error.js';
import { AggregateAlreadyExistsError } from '../errors/aggregate-already-exists.error.js';
import { AggregateNotFoundError } from '../errors/aggregate-not-found.error.js';
import { AppendConditionConflictError } from '../errors/append-condition-conflict.error.js';
import type { DecisionDefinition } from '../decisions/decision-definition.js';
import { ConcurrencyError } from '../errors/concurrency.error.js';
import { DuplicateCommandError } from '../errors/duplicate-command.error.js';
import { GatewayOverloadedError } from '../errors/gateway-overloaded.error.js';
import { IdempotencyKeyReusedError } from '../errors/idempotency-key-reused.error.js';
import { InvalidArgumentError } from '../errors/invalid-argument.error.js';
import { InvalidCommandError } from '../errors/invalid-command.error.js';
import type { EventMetadata } from '../events/event-metadata.js';
import { EventSerializer } from '../events/event-serializer.js';
import { consoleLogger, type ChronicleLogger } from '../logging/chronicle-logger.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import { checkAppendOrigin } from '../ports/append-origin.js';
import type { AppendCondition, AppendRequest, AppendResult, CommandRecord, EventQuery, JournalStreams } from '../ports/journal.port.js';
import { CommitBatcher } from './commit-batcher.js';
import { DecisionStateCache } from './decision-state-cache.js';
import type { SnapshotStore } from '../ports/snapshot-store.port.js';
import { AggregateLoader } from './aggregate-loader.js';
import { resolveCommandGatewayOptions, type CommandGatewayOptions, type ResolvedCommandGatewayOptions } from './command-gateway-options.js';
import type { CommandInterceptor } from './command-interceptor.js';
import { KeyedQueue } from './keyed-queue.js';
import { LruCache } from './lru-cache.js';
import { NOT_PLAIN_DATA, plainDataCopy } from './plain-data-copy.js';
import type { CommittedCommand, PostCommitListener } from './post-commit-listener.js';
import { Semaphore } from './semaphore.js';
import { StateCopy } from './state-copy.js';
import { ChronicleTelemetry, type CommandSpanOutcome, type TelemetrySpan } from '../telemetry/chronicle-telemetry.js';
import { logContext } from '../telemetry/log-context.js';
import { validTraceContext, type TraceContextCarrier } from '../telemetry/trace-context.js';

/** What the gateway works with. */
export interface CommandGatewayDependencies {
  catalog: AggregateCatalog;
  journal: JournalStreams;
  snapshots?: SnapshotStore;
  clock?: Clock;
  logger?: ChronicleLogger;
  interceptors?: CommandInterceptor[];
  listeners?: PostCommitListener[];
  /** Spans and metrics of commands and group commits. @default off */
  telemetry?: ChronicleTelemetry;
  /**
   * The tag of every unit this gateway appends (`AppendRequest.origin`). A runtime gives its own
   * and skips the notifications that carry it, because a listener of this gateway wakes its relay
   * and subscriptions after each commit. @default none
   */
  origin?: string;
  /**
   * Called when an append of events fails otherwise than by a refusal (a conflict, a recorded
   * command id, a stale decision): the unit may have committed with its answer lost (a connection
   * dropped at COMMIT), and no post-commit listener runs for it. The runtime wakes its relay and
   * subscriptions then, since the notification of such a commit carries its origin and is skipped.
   * Must not throw. @default none
   */
  onUnsettledAppend?: (error: unknown) => void;
}

/** Cache counters since the gateway was built. */
export interface GatewayCacheStats {
  /** Hydrated aggregates held now. */
  size: number;
  /** Commands and reads that found their aggregate cached. */
  hits: number;
  /** Those that recovered it from the store. */
  misses: number;
}

/** An aggregate's state as a reader sees it: a copy, safe to keep. */
export interface AggregateView<T extends object> {
  aggregateId: string;
  streamId: string;
  version: number;
  state: T;
}

interface CacheEntry {
  aggregate: object;
  version: number;
  /** The last result's copy of this aggregate, not made yet: it must be made before the aggregate changes. */
  pending?: StateCopy;
}

/** What `admit` queues: the task, the id its overload errors name, its queue, and how it runs. */
interface Admission {
  task: CommandTask | DecisionTask;
  id: string;
  queueKey: string;
  /** The end of the aggregate-queue-full message: what is already queued. */
  queuedMessage: string;
  run: () => Promise<CommandResult>;
}

/** The commit a post-commit listener failed on, for its log line (whose text is built only when one fails). */
interface CommitLabel {
  streamId: string;
  version: number;
  metadata: EventMetadata;
}

/** A hydrated aggregate inside one command, and whether it was read from the database just now. */
interface WorkingCopy extends CacheEntry {
  fresh: boolean;
  /** A new aggregate assumed for a creating command, its stream not read (see `run`). */
  assumedNew?: true;
}

interface CommandTask {
  command: object;
  metadata: CommandMetadata;
  definition: AggregateDefinition;
  handler: ResolvedCommandHandler;
  aggregateId: string;
  streamId: string;
  commandId: string;
  /** Whether the caller gave a command id, so the outcome is recorded for retries. */
  idempotent: boolean;
  fingerprint: string;
  /** Conflicts with another writer that made it reload and decide again. */
  retries: number;
  /** Answered with a recorded outcome. */
  replayed: boolean;
  /** `chronicle.command`, when telemetry is on. */
  span?: TelemetrySpan;
}

/** A command of a decision handler, through the gateway. */
interface DecisionTask {
  command: object;
  metadata: CommandMetadata;
  definition: DecisionDefinition;
  query: EventQuery;
  /** Decisions on one query take turns in this process (they would only conflict with each other). */
  queueKey: string;
  id: string;
  /** The id of the stream the events go to (the result's `aggregateId`). */
  aggregateId: string;
  streamId: string;
  aggregateType: string;
  aggregate: AggregateDefinition | undefined;
  creates: boolean;
  commandId: string;
  idempotent: boolean;
  fingerprint: string;
  retries: number;
  replayed: boolean;
  span?: TelemetrySpan;
}

/** Thrown inside a task when another writer moved the aggregate: reload and decide again. */
class StaleAggregate extends Error {
  constructor(readonly conflict: ConcurrencyError) {
    super(conflict.message);
  }
}

/**
 * Executes commands against event-sourced aggregates.
 *
 * - Commands to one aggregate never interleave inside a process; different aggregates run
 *   concurrently. Queues are bounded and overload fails fast with `GatewayOverloadedError`.
 * - Hydrated aggregates stay in an LRU cache, so the hot path is one transaction and no read;
 *   recoveries are bounded by permits.
 * - Idempotency first: a command id with a recorded outcome gets that outcome, success or
 *   rejection, and nothing is written. Outcomes are recorded in the events' transaction.
 * - Rejections are decided on current state: a cached aggregate is checked against the database
 *   before a rejection is reported.
 * - Optimistic concurrency: an expected version must match; without one, a conflict with another
 *   writer reloads the aggregate and retries.
 */
export class CommandGateway {
  private readonly options: ResolvedCommandGatewayOptions;
  private readonly catalog: AggregateCatalog;
  private readonly journal: JournalStreams;
  private readonly snapshots: SnapshotStore | undefined;
  private readonly clock: Clock;
  private readonly logger: ChronicleLogger;
  private readonly interceptors: CommandInterceptor[];
  private readonly listeners: PostCommitListener[];
  private readonly serializer: EventSerializer;
  private readonly loader: AggregateLoader;
  private readonly cache: LruCache<string, CacheEntry>;
  private readonly recent: LruCache<string, CommandRecord>;
  /**
   * The version of each stream of a decision handler's own (no aggregate) after this process's
   * last decision on it, so the next one needs no read of it: a stale one fails the append's
   * expected version, and the retry reads it.
   */
  private readonly decisionStreams: LruCache<string, number>;
  private readonly decisionStates: DecisionStateCache;
  /** Whether events of a type declare `@PersonalData` fields (a state folded from them is never cached). */
  private readonly personalTypes = new Map<string, boolean>();
  private readonly queue = new KeyedQueue();
  private readonly recoveries: Semaphore;
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly snapshotSaves = new Set<Promise<void>>();
  /** Where units of work go: the group-commit batcher, or the journal itself. */
  private readonly appender: { append(request: AppendRequest, span?: TelemetrySpan): Promise<AppendResult> };
  private readonly onUnsettledAppend: ((error: unknown) => void) | undefined;
  /** Spread into every unit appended: `{ origin }`, or nothing (see `CommandGatewayDependencies.origin`). */
  private readonly originTag: Pick<AppendRequest, 'origin'>;
  private readonly telemetry: ChronicleTelemetry;
  private pending = 0;
  private closed = false;
  private cacheHits = 0;
  private cacheMisses = 0;

  constructor(dependencies: CommandGatewayDependencies, options: CommandGatewayOptions = {}) {
    this.options = resolveCommandGatewayOptions(options);
    this.catalog = dependencies.catalog;
    this.journal = dependencies.journal;
    this.snapshots = dependencies.snapshots;
    this.clock = dependencies.clock ?? systemClock;
    this.logger = dependencies.logger ?? consoleLogger(CommandGateway.name);
    this.interceptors = [...(dependencies.interceptors ?? [])];
    this.listeners = [...(dependencies.listeners ?? [])];
    this.serializer = new EventSerializer(this.catalog.events);
    this.loader = new AggregateLoader(this.journal, this.snapshots, this.serializer, this.logger, this.options.replayPageSize);
    this.cache = new LruCache(this.options.cacheSize);
    this.recent = new LruCache(Math.max(1, this.options.recentOutcomes));
    this.decisionStreams = new LruCache(this.options.cacheSize);
    this.decisionStates = new DecisionStateCache(this.options.decisionCacheSize);
    this.recoveries = new Semaphore(this.options.maxConcurrentRecoveries);
    this.telemetry = dependencies.telemetry ?? new ChronicleTelemetry();
    this.appender = this.options.groupCommit.enabled ? new CommitBatcher(this.journal, this.options.groupCommit, this.telemetry) : this.journal;
    this.onUnsettledAppend = dependencies.onUnsettledAppend;
    const origin = checkAppendOrigin(dependencies.origin);
    this.originTag = origin === undefined ? {} : { origin };
  }

  /** The serializer over this gateway's event registry. */
  get eventSerializer(): EventSerializer {
    return this.serializer;
  }

  /** Hydrated aggregates held in memory now. */
  get cachedAggregates(): number {
    return this.cache.size;
  }

  /** The cache's size and its hits and misses so far (read by the cache gauges). */
  get cacheStats(): GatewayCacheStats {
    return { size: this.cache.size, hits: this.cacheHits, misses: this.cacheMisses };
  }

  /** Adds a listener told about every later commit. */
  addListener(listener: PostCommitListener): void {
    this.listeners.push(listener);
  }

  /** Adds an interceptor run before every later command. */
  addInterceptor(interceptor: CommandInterceptor): void {
    this.interceptors.push(interceptor);
  }

  /**
   * Executes a command and resolves with what it appended and the state it left the aggregate in,
   * or rejects with why it was refused. A replayed outcome carries no state (see `CommandResult.state`).
   */
  execute<E extends object = object, S extends object = object>(
    command: object,
    metadata: CommandMetadata = {},
  ): Promise<CommandResult<E, S>> {
    // Not `async` when no interceptor has to be awaited: an async wrapper returning the command's
    // promise would add two promises per command, and with an OpenTelemetry SDK's AsyncLocalStorage
    // entered, Node 20 runs promise hooks for every promise. Every refusal is still a rejection.
    try {
      if (this.closed) {
        throw new GatewayOverloadedError('shutting-down', command?.constructor?.name ?? 'command', 'the gateway is shutting down');
      }
      if (command === null || typeof command !== 'object') {
        throw new InvalidCommandError(String(command), 'a command must be an object');
      }
      if (this.interceptors.length > 0) return this.interceptThenDispatch(command, metadata) as Promise<CommandResult<E, S>>;
      return this.dispatch(command, metadata) as Promise<CommandResult<E, S>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The interceptors in turn, then the command. */
  private async interceptThenDispatch(command: object, metadata: CommandMetadata): Promise<CommandResult> {
    // The catalog first, so an unknown command is reported as such before any interceptor sees it.
    this.catalog.decisionFor(command) ?? this.catalog.forCommand(command);
    // Validation comes first, so a malformed command is reported as such, whatever field is wrong.
    for (const interceptor of this.interceptors) await interceptor.intercept(command, metadata);
    return this.dispatch(command, metadata);
  }

  /** A command or a decision, past the interceptors: prepared, then executed (traced when telemetry is on). */
  private dispatch(command: object, metadata: CommandMetadata): Promise<CommandResult> {
    const decision = this.catalog.decisionFor(command);
    if (decision !== undefined) {
      const decisionTask = this.prepareDecision(decision, command, metadata);
      if (!this.telemetry.enabled) return this.executeDecisionTask(decisionTask);
      return this.traced(decisionTask, decision.name, decisionTask.id, () => this.executeDecisionTask(decisionTask));
    }
    const task = this.prepare(this.catalog.forCommand(command), command, metadata);
    if (!this.telemetry.enabled) return this.executeTask(task);
    return this.executeTraced(task);
  }

  /** `executeTask` inside `chronicle.command`, with its outcome recorded. */
  private executeTraced(task: CommandTask): Promise<CommandResult> {
    return this.traced(task, task.definition.name, task.aggregateId, () => this.executeTask(task));
  }

  /**
   * `run` inside `chronicle.command` (an aggregate's command or a decision), with its outcome recorded.
   * Not `async`: with the SDK's AsyncLocalStorage on, Node 20 runs promise hooks for every promise,
   * and an `await` here would add two promises to each traced command; `then` adds one.
   */
  private traced(
    task: CommandTask | DecisionTask,
    aggregateType: string,
    aggregateId: string,
    run: () => Promise<CommandResult>,
  ): Promise<CommandResult> {
    const startedAt = performance.now();
    const { metadata } = task;
    // Fixed-shape objects, no spreads: this runs once per command when tracing is on.
    const span = this.telemetry.startCommand({
      aggregateType,
      aggregateId,
      commandType: task.command.constructor.name,
      commandId: task.commandId,
      expectedVersion: metadata.expectedVersion,
      parent: metadata.traceparent === undefined ? undefined : validTraceContext(metadata.traceparent, metadata.tracestate),
    });
    task.span = span;
    const failed = (error: unknown): never => {
      const outcome: CommandSpanOutcome = task.replayed
        ? 'replayed'
        : error instanceof ConcurrencyError || error instanceof StaleAggregate || error instanceof AppendConditionConflictError
          ? 'conflict'
          : isRecordableRejection(error)
            ? 'rejected'
            : 'error';
      this.telemetry.endCommand(span, { aggregateType, startedAt, outcome, resultingVersion: undefined, retries: task.retries, error });
      throw error;
    };
    let running: Promise<CommandResult>;
    try {
      running = this.telemetry.runIn(span, run);
    } catch (error) {
      // `run` failing before its first await still ends the span, as a rejection.
      return Promise.reject(error).catch(failed);
    }
    return running.then((result) => {
      this.telemetry.endCommand(span, {
        aggregateType,
        startedAt,
        outcome: result.replayed ? 'replayed' : 'accepted',
        resultingVersion: result.version,
        retries: task.retries,
        error: undefined,
      });
      return result;
    }, failed);
  }

  private executeTask(task: CommandTask): Promise<CommandResult> {
    return this.admit({ task, id: task.aggregateId, queueKey: task.streamId, queuedMessage: 'commands are already queued for it', run: () => this.run(task) });
  }

  /** Idempotency, bounds and the per-query queue of a decision, as `executeTask` does for an aggregate's command. */
  private executeDecisionTask(task: DecisionTask): Promise<CommandResult> {
    // Decisions on one query take turns here: run together they would only make each other's
    // conditions fail. Other processes are kept out by the append condition, not by this queue.
    return this.admit({ task, id: task.id, queueKey: task.queueKey, queuedMessage: 'decisions are already queued on its query', run: () => this.runDecision(task) });
  }

  /**
   * What every command and decision goes through before it runs: a known command id gets its
   * outcome (a duplicate arriving while the first still runs waits for it), the gateway's and the
   * queue's bounds, then `run` in turn on `queueKey`, tracked as in flight for its command id.
   */
  private admit(admission: Admission): Promise<CommandResult> {
    const { task } = admission;
    // Not `async` (see `traced`): a command whose id is neither running nor known is queued at
    // once; only one that must wait for its other run, or replay it, goes the async way.
    if (task.idempotent && (this.inFlight.has(task.commandId) || this.recent.has(task.commandId))) return this.admitAfterEarlierRun(admission);
    try {
      return this.enqueue(admission);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `admit` for a command id that is running or known: waits for that run, then replays or queues it. */
  private async admitAfterEarlierRun(admission: Admission): Promise<CommandResult> {
    const { task } = admission;
    // A loop: when the run waited for fails without an outcome, the first waiter to wake runs
    // the command again (it is in flight before the next waiter wakes), and the others wait
    // for that run instead of running it too.
    for (let running = this.inFlight.get(task.commandId); running; running = this.inFlight.get(task.commandId)) {
      await running.catch(() => undefined);
    }
    const known = this.recent.get(task.commandId);
    if (known) return this.replay(known, task);
    return this.enqueue(admission);
  }

  /** The gateway's and the queue's bounds, then `run` in turn on `queueKey`, tracked as in flight for its command id. */
  private enqueue({ task, id, queueKey, queuedMessage, run }: Admission): Promise<CommandResult> {
    if (this.pending >= this.options.maxPendingCommands) {
      throw new GatewayOverloadedError('gateway-queue-full', id, `${this.pending} commands are already pending`);
    }
    if (this.queue.depth(queueKey) >= this.options.maxQueuePerAggregate) {
      throw new GatewayOverloadedError('aggregate-queue-full', id, `${this.options.maxQueuePerAggregate} ${queuedMessage}`);
    }
    this.pending++;
    const execution = this.queue.run(queueKey, run);
    if (task.idempotent) this.inFlight.set(task.commandId, execution);
    // One settlement handler for both: the pending count, and the command id no longer in flight.
    const settled = (): void => {
      this.pending--;
      if (task.idempotent && this.inFlight.get(task.commandId) === execution) this.inFlight.delete(task.commandId);
    };
    return execution.then(
      (result) => {
        settled();
        return result;
      },
      (error: unknown) => {
        settled();
        throw error;
      },
    );
  }

  /**
   * The current state of an aggregate, at least as new as the database's version when the call
   * was made — whichever instance wrote last. Undefined for an aggregate that does not exist.
   */
  async read<T extends object>(aggregateClass: ClassType<T>, aggregateId: string): Promise<AggregateView<T> | undefined> {
    const definition = this.catalog.forClass(aggregateClass);
    const streamId = definition.streamId(aggregateId);
    if (this.queue.depth(streamId) >= this.options.maxQueuePerAggregate) {
      throw new GatewayOverloadedError('aggregate-queue-full', aggregateId, 'too many commands are queued for it');
    }
    return this.queue.run(streamId, async () => {
      const copy = await this.checkout(definition, streamId, aggregateId);
      if (!copy.fresh) {
        // One cheap read proves the cached copy current, or tells how far to catch up.
        const current = await this.journal.streamVersion(streamId);
        if (current > copy.version) await this.catchUp(definition, streamId, copy);
      }
      if (copy.version === 0) return undefined;
      this.cache.set(streamId, { aggregate: copy.aggregate, version: copy.version });
      return { aggregateId, streamId, version: copy.version, state: definition.clone(copy.aggregate as T) };
    });
  }

  /** An aggregate as it was at a version (not cached). Undefined when the stream has no such version. */
  async readAt<T extends object>(aggregateClass: ClassType<T>, aggregateId: string, version: number): Promise<AggregateView<T> | undefined> {
    const definition = this.catalog.forClass(aggregateClass);
    const streamId = definition.streamId(aggregateId);
    const loaded = await this.withRecoveryPermit(aggregateId, () => this.loader.load(definition, streamId, version));
    if (loaded.version !== version || version === 0) return undefined;
    return { aggregateId, streamId, version, state: loaded.aggregate };
  }

  /**
   * Drops the decision states this process keeps (each next decision reads its query's events
   * afresh). `Chronicle.forget` calls it; states folded from events with personal fields are never
   * kept, so this is a second line of defence.
   */
  clearDecisionStates(): void {
    this.decisionStates.clear();
  }

  /** Forgets a cached aggregate (the next command reloads it). */
  evict(aggregateClass: ClassType, aggregateId: string): void {
    this.cache.delete(this.catalog.forClass(aggregateClass).streamId(aggregateId));
  }

  /** Deletes recorded command outcomes older than the retention; returns how many. */
  async pruneCommandOutcomes(retentionMs: number): Promise<number> {
    return this.journal.pruneCommands(new Date(this.clock.now().getTime() - retentionMs));
  }

  /** Refuses new commands, then waits for queued commands and snapshot saves to finish. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.drain();
    await Promise.allSettled([...this.snapshotSaves]);
  }

  private prepare(definition: AggregateDefinition, command: object, metadata: CommandMetadata): CommandTask {
    const handler = definition.handlers.get(command.constructor as ClassType)!;
    const aggregateId = readAggregateId(handler.idSource, command);
    const { commandId, expectedVersion } = metadata;
    if (commandId !== undefined && (typeof commandId !== 'string' || commandId.length === 0 || commandId.length > 200)) {
      throw new InvalidCommandError(command.constructor.name, 'its command id must be a string of 1–200 characters');
    }
    if (expectedVersion !== undefined && (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0)) {
      throw new InvalidCommandError(
        command.constructor.name,
        `its expected version must be a non-negative integer, got ${String(expectedVersion)}`,
      );
    }
    return {
      command,
      metadata,
      definition,
      handler,
      aggregateId,
      streamId: definition.streamId(aggregateId),
      ...taskIdentity(command, commandId),
    };
  }

  private async run(task: CommandTask): Promise<CommandResult> {
    // A creating command reads nothing first: it is decided on a new aggregate and appended at
    // version 0. A stream that exists after all fails that append, or the version check before a
    // refusal is recorded or another error thrown (`ensureCurrent`), as a stale copy does: the
    // stream is then loaded and the command decided again (AggregateAlreadyExistsError, or the
    // replay of its recorded outcome), without counting as a conflict.
    let assumeNew = task.handler.creates && (task.metadata.expectedVersion ?? 0) === 0;
    for (let attempt = 0; ; attempt++) {
      // A cached aggregate without a promise (see `cachedCopy`).
      const copy: WorkingCopy =
        this.cachedCopy(task.streamId) ??
        (assumeNew
          ? { aggregate: task.definition.create(), version: 0, fresh: false, assumedNew: true }
          : await this.checkout(task.definition, task.streamId, task.aggregateId));
      try {
        return await this.decide(task, copy, attempt);
      } catch (error) {
        if (!(error instanceof StaleAggregate)) throw error;
        this.cache.delete(task.streamId);
        if (copy.assumedNew) {
          assumeNew = false;
          attempt--;
          continue;
        }
        if (attempt >= this.options.conflictRetries) throw error.conflict;
        task.retries = attempt + 1;
        // A random pause that grows with each conflict, so instances contending for one aggregate
        // stop colliding in lockstep.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * 2 ** attempt)));
      }
    }
  }

  private async decide(task: CommandTask, copy: WorkingCopy, attempt: number): Promise<CommandResult> {
    const { definition, handler, metadata, streamId } = task;
    const { expectedVersion } = metadata;
    if (expectedVersion !== undefined && expectedVersion !== copy.version) {
      // A cached copy behind the expected version may only be stale; refresh before refusing.
      if (expectedVersion > copy.version && !copy.fresh) await this.catchUp(definition, streamId, copy);
      if (expectedVersion !== copy.version) {
        // Idempotency comes before the version check: a retry of an applied command succeeds.
        const recorded = task.idempotent ? await this.journal.findCommand(task.commandId) : undefined;
        if (recorded) return this.replay(recorded, task);
        throw new ConcurrencyError(streamId, expectedVersion, copy.version);
      }
    }

    const now = this.clock.now();
    let events: object[];
    let mutated = false;
    try {
      if (handler.creates && copy.version > 0) throw new AggregateAlreadyExistsError(definition.name, task.aggregateId);
      if (!handler.creates && copy.version === 0) throw new AggregateNotFoundError(definition.name, task.aggregateId);
      const decided = definition.handle(copy.aggregate, task.command, { aggregateId: task.aggregateId, version: copy.version, now });
      events = Array.isArray(decided) ? decided : await decided;
      for (const event of events) {
        mutated = true;
        definition.apply(copy.aggregate, event);
      }
      definition.checkInvariants(copy.aggregate);
    } catch (error) {
      if (mutated) this.cache.delete(streamId);
      if (!isRecordableRejection(error)) {
        // Decided on an assumed new aggregate: the error stands only if the stream is new indeed.
        if (copy.assumedNew) await this.ensureCurrent(task, copy);
        throw error;
      }
      return this.reject(task, copy, error);
    }

    if (events.length === 0) return this.acceptNothing(task, copy);
    return this.commit(task, copy, events, now, attempt);
  }

  private async commit(task: CommandTask, copy: WorkingCopy, events: object[], now: Date, attempt: number): Promise<CommandResult> {
    const { definition, metadata, streamId } = task;
    const trace = this.traceContext(task);
    const eventMetadata: EventMetadata = {
      commandId: task.commandId,
      correlationId: metadata.correlationId ?? task.commandId,
      causationId: metadata.causationId ?? task.commandId,
      ...(metadata.expectedVersion === undefined ? {} : { expectedVersion: metadata.expectedVersion }),
      ...trace,
    };
    const serialized = events.map((event) => this.serializer.serialize(event, eventMetadata, now, metadata.tags));
    const fromVersion = copy.version + 1;
    const toVersion = copy.version + events.length;
    const record = task.idempotent
      ? this.record(task, { kind: 'accepted', fromVersion, toVersion }, now)
      : undefined;

    let appended;
    try {
      // A retry after a conflict commits at once: waiting for a batch would widen the window in
      // which the competing instance can move the aggregate again.
      const request: AppendRequest = {
        writes: [{ streamId, aggregateType: definition.name, expectedVersion: copy.version, events: serialized }],
        commands: record ? [record] : [],
        ...this.originTag,
      };
      appended = await this.appendEvents(request, task.span, attempt > 0);
    } catch (error) {
      // The copy holds uncommitted state, and a lost connection leaves the outcome unknown.
      this.cache.delete(streamId);
      if (error instanceof DuplicateCommandError) return this.replay(await this.requireRecord(task), task);
      if (error instanceof ConcurrencyError) {
        if (metadata.expectedVersion === undefined) throw new StaleAggregate(error);
        const recorded = task.idempotent ? await this.journal.findCommand(task.commandId) : undefined;
        if (recorded) return this.replay(recorded, task);
        throw new ConcurrencyError(streamId, metadata.expectedVersion, error.actualVersion, { cause: error });
      }
      throw error;
    }

    copy.version = toVersion;
    const state = new StateCopy(definition, copy.aggregate);
    this.cache.set(streamId, { aggregate: copy.aggregate, version: toVersion, pending: state });
    if (record) this.recent.set(task.commandId, record);
    this.snapshotIfDue(definition, streamId, copy.aggregate, fromVersion - 1, toVersion, now, eventMetadata);

    const recorded = appended.streams[0]?.events ?? [];
    const result: CommandResult = {
      aggregateType: definition.name,
      aggregateId: task.aggregateId,
      streamId,
      version: toVersion,
      events,
      cursor: appended.cursor,
      commandId: task.commandId,
      replayed: false,
      get state() {
        return state.value;
      },
    };
    const notified = this.notifyListeners({ command: task.command, result, recorded }, { streamId, version: toVersion, metadata: eventMetadata });
    if (notified !== undefined) await notified;
    return result;
  }

  /**
   * Appends a unit that writes events, batched (or `alone`: at once). A failure other than a
   * refusal (a conflict, a recorded command id, a stale decision) may follow a commit whose answer
   * was lost: `onUnsettledAppend` is told, since no post-commit listener runs for it. Not `async`:
   * one promise per command fewer (see `traced`).
   */
  private appendEvents(request: AppendRequest, span: TelemetrySpan | undefined, alone: boolean): Promise<AppendResult> {
    let appending: Promise<AppendResult>;
    try {
      // `Promise.resolve` hands a native promise back as it is; it also takes what a journal
      // outside the types might return (a value, a foreign thenable), as `await` did.
      appending = Promise.resolve(alone ? this.journal.append(request) : this.appender.append(request, span));
    } catch (error) {
      return Promise.reject(this.appendFailed(error));
    }
    return appending.then(undefined, (error: unknown) => {
      throw this.appendFailed(error);
    });
  }

  private appendFailed(error: unknown): unknown {
    const refused = error instanceof ConcurrencyError || error instanceof DuplicateCommandError || error instanceof AppendConditionConflictError;
    if (!refused) this.onUnsettledAppend?.(error);
    return error;
  }

  /**
   * Runs the post-commit listeners in order; one that throws is logged (naming what `where`
   * describes) and the others still run. Undefined when every listener returned at once: a
   * listener that returns no promise is not awaited, so a command whose listeners are synchronous
   * (the runtime's wake-up) makes no promise here. With the SDK's AsyncLocalStorage on, Node 20
   * runs promise hooks for every promise; the label is built only for a failure.
   */
  private notifyListeners(commit: CommittedCommand, where: CommitLabel): Promise<void> | undefined {
    for (let index = 0; index < this.listeners.length; index++) {
      const listener = this.listeners[index]!;
      let pending: PromiseLike<void> | undefined;
      try {
        const returned: unknown = listener.afterCommit(commit);
        // Read inside the `try`: a `then` getter that throws is the listener's failure, as it was under `await`.
        if (returned !== undefined && returned !== null && typeof (returned as PromiseLike<void>).then === 'function') pending = returned as PromiseLike<void>;
      } catch (error) {
        this.listenerFailed(listener, where, error);
        continue;
      }
      if (pending !== undefined) return this.notifyRemaining(commit, where, pending, index);
    }
    return undefined;
  }

  /**
   * `notifyListeners` from a listener that returned a promise: awaited, then the ones after it
   * (read from the live list, as `addListener` may add one meanwhile).
   */
  private async notifyRemaining(commit: CommittedCommand, where: CommitLabel, pending: PromiseLike<void>, index: number): Promise<void> {
    try {
      await pending;
    } catch (error) {
      this.listenerFailed(this.listeners[index]!, where, error);
    }
    for (let next = index + 1; next < this.listeners.length; next++) {
      const listener = this.listeners[next]!;
      try {
        await listener.afterCommit(commit);
      } catch (error) {
        this.listenerFailed(listener, where, error);
      }
    }
  }

  private listenerFailed(listener: PostCommitListener, where: CommitLabel, error: unknown): void {
    const at = `${where.streamId}@${where.version}${logContext(where.metadata)}`;
    this.logger.error(`Post-commit listener ${listener.constructor.name} failed for ${at}: ${(error as Error).message}`, (error as Error).stack);
  }

  private prepareDecision(definition: DecisionDefinition, command: object, metadata: CommandMetadata): DecisionTask {
    const { commandId, expectedVersion } = metadata;
    if (commandId !== undefined && (typeof commandId !== 'string' || commandId.length === 0 || commandId.length > 200)) {
      throw new InvalidCommandError(command.constructor.name, 'its command id must be a string of 1–200 characters');
    }
    if (expectedVersion !== undefined && (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0)) {
      throw new InvalidCommandError(command.constructor.name, `its expected version must be a non-negative integer, got ${String(expectedVersion)}`);
    }
    const target = definition.target(command);
    const query = definition.queryFor(command);
    const decision = definition.decision(command);
    return {
      command,
      metadata,
      definition,
      query,
      queueKey: `decision:${JSON.stringify(query)}`,
      id: target.id,
      aggregateId: target.id,
      streamId: target.streamId,
      aggregateType: target.aggregateType,
      aggregate: decision.aggregate,
      creates: decision.options.creates ?? false,
      ...taskIdentity(command, commandId),
    };
  }

  /**
   * Read, decide, append on the condition that nothing matching the query was committed since the
   * read; a failed condition (or a stream moved under a decision without an expected version)
   * reads and decides again, at most `conflictRetries` times, after a growing random pause. When
   * the retries run out the last `AppendConditionConflictError` (or `ConcurrencyError`) is thrown.
   */
  private async runDecision(task: DecisionTask): Promise<CommandResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.decideOnce(task, attempt);
      } catch (error) {
        const stale = error instanceof StaleAggregate;
        if (stale) this.decisionStreams.delete(task.streamId);
        if (!stale && !(error instanceof AppendConditionConflictError)) throw error;
        if (attempt >= this.options.conflictRetries) throw stale ? error.conflict : error;
        task.retries = attempt + 1;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * 2 ** attempt)));
      }
    }
  }

  private async decideOnce(task: DecisionTask, attempt: number): Promise<CommandResult> {
    const { definition, metadata, streamId } = task;
    const { expectedVersion } = metadata;
    // The stream's version is read only when it may matter: a creating decision first assumes a
    // new stream, a decision on a stream of its own takes the version its last commit here left
    // (either wrong, the append's expected version fails and the retry reads it); an expected
    // version given by the caller is always checked against the database.
    const assumed =
      attempt > 0 || expectedVersion !== undefined ? undefined : task.creates ? 0 : task.aggregate === undefined ? this.decisionStreams.get(streamId) : undefined;
    // The state folded by this process's last decision on the query, if kept: only the events
    // committed since its read are read now (see DecisionStateCache for why nothing is missed).
    let cached = this.decisionStates.take(definition.name, task.queueKey);
    const read =
      cached === undefined
        ? this.journal.readByQuery(task.query)
        : this.journal.readByQuery(task.query, { after: cached.next }).catch((error: unknown) => {
            // A kept cursor the journal no longer knows (a journal emptied or restored under this
            // process): the kept state says nothing about it; read the query from the start.
            if (!(error instanceof InvalidArgumentError) || error.argument !== 'after') throw error;
            cached = undefined;
            return this.journal.readByQuery(task.query);
          });
    const [page, version] = await Promise.all([read, assumed ?? this.journal.streamVersion(streamId)]);
    if (expectedVersion !== undefined && expectedVersion !== version) {
      if (cached !== undefined) this.decisionStates.put(definition.name, task.queueKey, cached);
      const recorded = task.idempotent ? await this.journal.findCommand(task.commandId) : undefined;
      if (recorded) return this.replay(recorded, task);
      throw new ConcurrencyError(streamId, expectedVersion, version);
    }
    let folded = cached === undefined ? definition.initialState() : cached.state;
    let personal = false;
    for (const stored of page.events) {
      // A custom query may match types the handler does not fold: those are not even decoded.
      if (!definition.evolvers.has(stored.type)) continue;
      folded = definition.evolve(folded, stored.type, this.serializer.deserialize(stored));
      personal ||= this.holdsPersonalData(stored.type);
    }
    const matched = (cached?.matched ?? 0) + page.events.length;
    // The decision (and the fold of its own events below) works on a copy, so the kept state stays
    // the fold of the read alone; a state that cannot be copied faithfully is not kept.
    let state = folded;
    if (!personal && this.decisionStates.capacity > 0) {
      const copy = plainDataCopy(folded);
      if (copy !== NOT_PLAIN_DATA) {
        state = copy;
        this.decisionStates.put(definition.name, task.queueKey, { state: folded, next: page.next, matched });
      }
    }
    const condition: AppendCondition = { failIfEventsMatch: task.query, after: page.next };
    const now = this.clock.now();
    let events: object[];
    try {
      if (task.creates && version > 0) throw new AggregateAlreadyExistsError(task.aggregateType, task.id);
      events = await definition.decide(task.command, state, { streamId, streamVersion: version, matched, now });
    } catch (error) {
      if (!isRecordableRejection(error)) throw error;
      // Refused on facts that must still hold: a unit committed just before the read but not
      // returned by it (PostgreSQL's feed bound trails the newest commits) fails the condition,
      // and the decision is made again on the new facts.
      const replayed = await this.appendDecisionOutcome(task, condition, { kind: 'rejected', error: recordError(error) }, now);
      if (replayed) return replayed;
      throw error;
    }
    if (events.length === 0) {
      const replayed = await this.appendDecisionOutcome(task, condition, { kind: 'accepted', fromVersion: version + 1, toVersion: version }, now);
      return replayed ?? this.decisionResult(task, version, [], undefined, state);
    }

    const eventMetadata: EventMetadata = {
      commandId: task.commandId,
      correlationId: metadata.correlationId ?? task.commandId,
      causationId: metadata.causationId ?? task.commandId,
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
      ...this.traceContext(task),
    };
    const serialized = events.map((event) => this.serializer.serialize(event, eventMetadata, now, metadata.tags));
    const toVersion = version + events.length;
    const record = task.idempotent ? this.decisionRecord(task, { kind: 'accepted', fromVersion: version + 1, toVersion }, now) : undefined;
    let appended: AppendResult;
    try {
      appended = await this.appendEvents(
        {
          writes: [{ streamId, aggregateType: task.aggregateType, expectedVersion: version, events: serialized }],
          commands: record ? [record] : [],
          condition,
          ...this.originTag,
        },
        task.span,
        false,
      );
    } catch (error) {
      if (error instanceof DuplicateCommandError) return this.replay(await this.requireRecord(task), task);
      if (error instanceof ConcurrencyError) {
        if (expectedVersion === undefined) throw new StaleAggregate(error);
        const recorded = task.idempotent ? await this.journal.findCommand(task.commandId) : undefined;
        if (recorded) return this.replay(recorded, task);
        throw new ConcurrencyError(streamId, expectedVersion, error.actualVersion, { cause: error });
      }
      throw error;
    }
    // The aggregate's cached copy in this process is behind its stream now.
    if (task.aggregate !== undefined) this.cache.delete(streamId);
    else this.decisionStreams.set(streamId, toVersion);
    if (record) this.recent.set(task.commandId, record);
    for (const [index, event] of events.entries()) state = definition.evolve(state, serialized[index]!.type, event);
    const result = this.decisionResult(task, toVersion, events, appended.cursor, state);
    const recorded = appended.streams[0]?.events ?? [];
    const notified = this.notifyListeners({ command: task.command, result, recorded }, { streamId, version: toVersion, metadata: eventMetadata });
    if (notified !== undefined) await notified;
    return result;
  }

  /**
   * A decision that writes no events: its outcome is recorded (when idempotent) on the decision's
   * condition, which is also checked when nothing is recorded, so that an outcome is never
   * reported on facts a concurrent commit has already changed. Resolves with the recorded outcome
   * of an earlier execution of the same command id when there is one.
   */
  private async appendDecisionOutcome(
    task: DecisionTask,
    condition: AppendCondition,
    outcome: CommandRecord['outcome'],
    now: Date,
  ): Promise<CommandResult | undefined> {
    const record = task.idempotent ? this.decisionRecord(task, outcome, now) : undefined;
    try {
      await this.appender.append({ writes: [], commands: record ? [record] : [], condition, ...this.originTag }, task.span);
    } catch (error) {
      if (!(error instanceof DuplicateCommandError)) throw error;
      return this.replay(await this.requireRecord(task), task);
    }
    if (record) this.recent.set(task.commandId, record);
    return undefined;
  }

  private holdsPersonalData(type: string): boolean {
    let holds = this.personalTypes.get(type);
    if (holds === undefined) {
      holds = this.catalog.events.forType(type).metadata.personalFields.length > 0;
      this.personalTypes.set(type, holds);
    }
    return holds;
  }

  private decisionResult(task: DecisionTask, version: number, events: object[], cursor: string | undefined, state: unknown): CommandResult {
    return {
      aggregateType: task.aggregateType,
      aggregateId: task.id,
      streamId: task.streamId,
      version,
      events,
      ...(cursor === undefined ? {} : { cursor }),
      commandId: task.commandId,
      replayed: false,
      // The decision's own state after its events (not an aggregate's).
      state: state as object | undefined,
    };
  }

  private decisionRecord(task: DecisionTask, outcome: CommandRecord['outcome'], now: Date): CommandRecord {
    return {
      commandId: task.commandId,
      fingerprint: task.fingerprint,
      streamId: task.streamId,
      aggregateType: task.aggregateType,
      outcome,
      recordedAt: now,
    };
  }

  /**
   * The W3C context stored with the command's events: its span's when tracing, else the one its
   * metadata carried (when valid; a malformed one is dropped, never fails the command).
   */
  private traceContext(task: CommandTask | DecisionTask): TraceContextCarrier | undefined {
    if (task.span) return this.telemetry.traceContextOf(task.span);
    const { traceparent, tracestate } = task.metadata;
    return traceparent === undefined ? undefined : validTraceContext(traceparent, tracestate);
  }

  /**
   * A rejection decided on current state is recorded (when idempotent) and thrown. When another
   * execution of the same command id recorded its outcome first, that outcome is the answer.
   */
  private async reject(task: CommandTask, copy: WorkingCopy, error: Error): Promise<CommandResult> {
    await this.ensureCurrent(task, copy);
    if (task.idempotent) {
      const record = this.record(task, { kind: 'rejected', error: recordError(error) }, this.clock.now());
      try {
        await this.appender.append({ writes: [], commands: [record], ...this.originTag }, task.span);
        this.recent.set(task.commandId, record);
      } catch (appendError) {
        if (!(appendError instanceof DuplicateCommandError)) throw appendError;
        return this.replay(await this.requireRecord(task), task);
      }
    }
    throw error;
  }

  /** A command that decided nothing happens: nothing to write but its outcome. */
  private async acceptNothing(task: CommandTask, copy: WorkingCopy): Promise<CommandResult> {
    await this.ensureCurrent(task, copy);
    if (task.idempotent) {
      const record = this.record(task, { kind: 'accepted', fromVersion: copy.version + 1, toVersion: copy.version }, this.clock.now());
      try {
        await this.appender.append({ writes: [], commands: [record], ...this.originTag }, task.span);
        this.recent.set(task.commandId, record);
      } catch (error) {
        if (!(error instanceof DuplicateCommandError)) throw error;
        return this.replay(await this.requireRecord(task), task);
      }
    }
    // Nothing changed, but the caller still gets the state the command was decided on.
    const state = copy.version === 0 ? undefined : new StateCopy(task.definition, copy.aggregate);
    if (state) this.cache.set(task.streamId, { aggregate: copy.aggregate, version: copy.version, pending: state });
    return {
      aggregateType: task.definition.name,
      aggregateId: task.aggregateId,
      streamId: task.streamId,
      version: copy.version,
      events: [],
      commandId: task.commandId,
      replayed: false,
      get state() {
        return state?.value;
      },
    };
  }

  /** Outcomes that write no events carry no version check, so prove a cached copy current first. */
  private async ensureCurrent(task: CommandTask, copy: WorkingCopy): Promise<void> {
    if (copy.fresh) return;
    const current = await this.journal.streamVersion(task.streamId);
    if (current !== copy.version) {
      throw new StaleAggregate(new ConcurrencyError(task.streamId, copy.version, current));
    }
  }

  private async replay(record: CommandRecord, task: CommandTask | DecisionTask): Promise<CommandResult> {
    if (record.fingerprint !== task.fingerprint) throw new IdempotencyKeyReusedError(task.commandId);
    task.replayed = true;
    const { outcome } = record;
    if (outcome.kind === 'rejected') throw reviveError(outcome.error);
    const stored =
      outcome.toVersion >= outcome.fromVersion
        ? await this.journal.readStream(record.streamId, { fromVersion: outcome.fromVersion, toVersion: outcome.toVersion })
        : [];
    return {
      aggregateType: record.aggregateType,
      aggregateId: task.aggregateId,
      streamId: record.streamId,
      version: outcome.toVersion,
      events: stored.map((event) => this.serializer.deserialize(event)),
      cursor: outcome.cursor ?? stored.at(-1)?.cursor,
      commandId: task.commandId,
      replayed: true,
      // The record holds the outcome, not the state: `readAt(version)` rebuilds it when needed.
      state: undefined,
    };
  }

  private async requireRecord(task: CommandTask | DecisionTask): Promise<CommandRecord> {
    const record = await this.journal.findCommand(task.commandId);
    if (!record) throw new Error(`Command "${task.commandId}" was reported as a duplicate but has no recorded outcome.`);
    return record;
  }

  private record(task: CommandTask, outcome: CommandRecord['outcome'], now: Date): CommandRecord {
    return {
      commandId: task.commandId,
      fingerprint: task.fingerprint,
      streamId: task.streamId,
      aggregateType: task.definition.name,
      outcome,
      recordedAt: now,
    };
  }

  /**
   * The cached copy of an aggregate, checked out for a command; undefined when it is not cached.
   * Synchronous, so a command on a cached aggregate creates no promise for it: with AsyncLocalStorage
   * entered (an OpenTelemetry SDK), Node 20 runs promise hooks for every promise.
   */
  private cachedCopy(streamId: string): WorkingCopy | undefined {
    const cached = this.cache.get(streamId);
    if (!cached) return undefined;
    this.cacheHits++;
    // The aggregate may change from here on: the last result's copy, if still owed, is made now.
    if (cached.pending) {
      cached.pending.freeze();
      cached.pending = undefined;
    }
    return { aggregate: cached.aggregate, version: cached.version, fresh: false };
  }

  /** The cached copy of an aggregate, or a freshly recovered one. Never caches a missing aggregate. */
  private async checkout(definition: AggregateDefinition, streamId: string, aggregateId: string): Promise<WorkingCopy> {
    const cached = this.cachedCopy(streamId);
    if (cached) return cached;
    this.cacheMisses++;
    const loaded = await this.withRecoveryPermit(aggregateId, () => this.loader.load(definition, streamId));
    if (loaded.version > 0) this.cache.set(streamId, loaded);
    return { ...loaded, fresh: true };
  }

  private async catchUp(definition: AggregateDefinition, streamId: string, copy: WorkingCopy): Promise<void> {
    copy.version = await this.loader.replay(definition, copy.aggregate, streamId, copy.version);
    copy.fresh = true;
    this.cache.set(streamId, { aggregate: copy.aggregate, version: copy.version });
  }

  private async withRecoveryPermit<T>(aggregateId: string, work: () => Promise<T>): Promise<T> {
    const granted = await this.recoveries.acquire(this.options.recoveryPermitTimeoutMs);
    if (!granted) {
      throw new GatewayOverloadedError(
        'recovery-permit-timeout',
        aggregateId,
        `no recovery permit within ${this.options.recoveryPermitTimeoutMs} ms (${this.options.maxConcurrentRecoveries} recoveries running)`,
      );
    }
    try {
      return await work();
    } finally {
      this.recoveries.release();
    }
  }

  /** Saves a snapshot after the commit when the batch crossed a multiple of `every`; never fails the command. */
  private snapshotIfDue(
    definition: AggregateDefinition,
    streamId: string,
    aggregate: object,
    fromVersion: number,
    toVersion: number,
    now: Date,
    metadata: EventMetadata,
  ): void {
    const policy = definition.snapshot;
    if (!policy || !this.snapshots) return;
    if (Math.floor(toVersion / policy.every) === Math.floor(fromVersion / policy.every)) return;
    let state;
    try {
      // Serialized now: later commands keep changing the same object.
      state = policy.serialize(aggregate);
    } catch (error) {
      this.logger.warn(`Snapshot of "${streamId}" at version ${toVersion}${logContext(metadata)} could not be serialized: ${(error as Error).message}`);
      return;
    }
    const save = this.snapshots
      .save({ streamId, aggregateType: definition.name, version: toVersion, schemaVersion: policy.version, state, takenAt: now }, policy.keep)
      .catch((error: unknown) => {
        this.logger.warn(`Snapshot of "${streamId}" at version ${toVersion}${logContext(metadata)} was not saved: ${(error as Error).message}`);
      })
      .finally(() => this.snapshotSaves.delete(save));
    this.snapshotSaves.add(save);
  }
}

/** The command id of a command or decision task, whether it is idempotent, and its retry state. */
function taskIdentity(command: object, commandId: string | undefined) {
  return {
    commandId: commandId ?? randomUUID(),
    idempotent: commandId !== undefined,
    // Only an idempotent command is ever compared with a recorded one; others skip the hash.
    fingerprint: commandId === undefined ? '' : commandFingerprint(command),
    retries: 0,
    replayed: false,
  };
}
