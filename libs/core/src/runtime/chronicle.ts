import { randomUUID } from 'node:crypto';
import { refusePlainPersonalData } from '../personal-data/plain-personal-data-check.js';
import { refuseUnsealedPersonalData } from '../personal-data/unsealed-personal-data-check.js';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import type { ClassType } from '../aggregates/class-type.js';
import type { CommandMetadata } from '../commands/command-metadata.js';
import type { CommandResult } from '../commands/command-result.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { decisionHandlerEventClasses } from '../decisions/decision-handler.decorator.js';
import { getEventMetadata } from '../events/event.decorator.js';
import { EventRegistry } from '../events/event-registry.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { GatewayOverloadedError } from '../errors/gateway-overloaded.error.js';
import { CommandGateway, type AggregateView } from '../gateway/command-gateway.js';
import type { CommandInterceptor } from '../gateway/command-interceptor.js';
import type { PostCommitListener } from '../gateway/post-commit-listener.js';
import { consoleLogger, type ChronicleLogger } from '../logging/chronicle-logger.js';
import { toRelayedHandler } from '../outbox/outbox-handler.decorator.js';
import { OutboxRelay } from '../outbox/outbox-relay.js';
import type { ChronicleStorage } from '../ports/chronicle-storage.port.js';
import type { ForgetResult, KeyStore, RotationResult } from '../ports/key-store.port.js';
import type { PersonalDataCipherOptions } from '../personal-data/personal-data-cipher.js';
import { withPersonalData, type PersonalDataStorage } from '../personal-data/personal-data-storage.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import { newLeaseOwnerId } from '../ports/lease-owner.js';
import { ProjectionHandler, projectionSubscriptionName } from '../projections/projection-handler.js';
import type { SagaCommandDispatcher } from '../sagas/saga-context.js';
import { SagaDeadlineRunner } from '../sagas/saga-deadline-runner.js';
import { SAGA_DEFAULTS, SagaEngine, sagaSubscriptionName } from '../sagas/saga-engine.js';
import { SubscriptionRunner } from '../subscriptions/subscription-runner.js';
import { ChronicleTelemetry } from '../telemetry/chronicle-telemetry.js';
import { observeRuntimeGauges } from '../telemetry/runtime-gauges.js';
import { tracedLogger } from '../telemetry/traced-logger.js';
import { BackgroundJobs } from './background-jobs.js';
import { resolveChronicleOptions, type ChronicleOptions, type ResolvedChronicleOptions } from './chronicle-options.js';

/** What `createChronicle` builds a runtime from. */
export interface ChronicleConfig<Tx = unknown> {
  /** The stores, from `createInMemoryStorage()` or `createTypeOrmStorage(dataSource)`. */
  storage: ChronicleStorage<Tx>;
  /** The `@Aggregate` classes whose commands this runtime executes. */
  aggregates: readonly ClassType[];
  /** Event classes no aggregate applies but that must still be readable (by sagas, projections). */
  events?: readonly ClassType[];
  /**
   * Instances of `@DecisionHandler` classes: rules that span streams (dynamic consistency
   * boundaries), executed by the gateway like the aggregates' commands.
   */
  decisions?: readonly object[];
  /** Instances of `@OutboxHandler` classes (or `{ settings, publisher }` pairs). */
  outboxHandlers?: readonly object[];
  /** Instances of `@Projection` classes. */
  projections?: readonly object[];
  /** Instances of `@Saga` classes. */
  sagas?: readonly object[];
  /** Run before every command, in order (validation, authorization…). */
  interceptors?: readonly CommandInterceptor[];
  /** Told about every commit, after it; their errors are logged and isolated. */
  listeners?: readonly PostCommitListener[];
  /** Where sagas send their commands. @default this runtime's gateway */
  dispatcher?: SagaCommandDispatcher;
  /** A logger per component (Nest's `(context) => new Logger(context)` fits). @default consoleLogger */
  logger?: (context: string) => ChronicleLogger;
  /** Time source of the gateway and the relay. @default systemClock */
  clock?: Clock;
  /**
   * Spans and metrics. By default `start()` loads `@opentelemetry/api` when it is installed (and
   * `options.telemetry` is not false) and records through the globally registered SDK; give
   * `ChronicleTelemetry.fromApi(api, { tracerProvider, meterProvider })` to choose the providers.
   * @default loaded at start
   */
  telemetry?: ChronicleTelemetry;
  /**
   * More components, asked for once by `start()`, before anything else it does: for hosts whose
   * instances exist only after the runtime is built (a DI container discovers its `@Projection`,
   * `@Saga` and `@OutboxHandler` providers once every provider is made). They join the lists above;
   * the runners, relay and jobs of the runtime are then built at `start()` instead of here.
   */
  components?: () => ChronicleComponents;
  /**
   * Runs each start-up step that talks to the storage (`'Chronicle migrations'`, `'outbox handler
   * registration'`, `'outbox backfill'`), for instance retrying it while the database restarts
   * (`retryDatabaseStartupStep` of `@chronicle/typeorm`). `signal` is aborted by `stop()`.
   * @default runs the step once
   */
  startupStep?: <T>(step: string, work: () => Promise<T>, signal: AbortSignal) => Promise<T>;
  /** Settings of the gateway, the outbox, the subscriptions and the runtime; each omitted one takes its default. */
  options?: ChronicleOptions;
  /**
   * Crypto-shredding of the events' `@PersonalData` fields: the key store (and its cache TTL).
   * With it the runtime wraps `storage` with `withPersonalData` over its own event registry and
   * `forget` works. Without it (and with a storage not already wrapped by `withPersonalData`),
   * an event class declaring `@PersonalData` fields is refused with `ConfigurationError`, rather
   * than stored in plain text: here, or at `start()` for the decisions of `components`. Over a
   * storage wrapped by `withPersonalData`, such a class must be in the `events` registry it was
   * wrapped with, with the same personal fields and subject (else `ConfigurationError` too).
   */
  personalData?: ChronicleConfigPersonalData;
}

/** The `personalData` part of `ChronicleConfig`. */
export interface ChronicleConfigPersonalData extends PersonalDataCipherOptions {
  /** Where the data keys live: `InMemoryKeyStore` or `TypeOrmKeyStore` (master keys from configuration). */
  keyStore: KeyStore;
}


/** The components a host supplies late, through {@link ChronicleConfig.components}. */
export interface ChronicleComponents {
  /** Instances of `@DecisionHandler` classes. */
  decisions?: readonly object[];
  /** Instances of `@OutboxHandler` classes (or `{ settings, publisher }` pairs). */
  outboxHandlers?: readonly object[];
  /** Instances of `@Projection` classes. */
  projections?: readonly object[];
  /** Instances of `@Saga` classes. */
  sagas?: readonly object[];
}

/** Where a runtime is in its life. */
export type ChronicleState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * One Chronicle runtime, framework-free: the command gateway (built with its final interceptors
 * and listeners), the outbox relay, a subscription runner per projection and saga, the saga
 * deadline runner, and the background jobs that drive them, every default resolved once.
 *
 * Constructing it does no I/O. `start()` migrates (unless turned off), registers the outbox
 * handlers, starts the notifications and the timers. `stop()` refuses new commands, stops every
 * timer and wake-up, lets the runners and the relay finish the step in flight and give back their
 * leases, then waits for the commands in flight. Both are idempotent; a stopped runtime does not
 * start again (build a new one).
 */
export class Chronicle<Tx = unknown> {
  /** The options with their defaults, as this runtime uses them. */
  readonly options: ResolvedChronicleOptions;
  readonly storage: ChronicleStorage<Tx>;
  readonly catalog: AggregateCatalog;
  readonly gateway: CommandGateway;
  /** The runner of every projection and saga, by subscription name (`projection:<name>`, `saga:<name>`). */
  readonly subscriptions: ReadonlyMap<string, SubscriptionRunner<Tx>> = new Map();
  /** The projections by name. */
  readonly projections: ReadonlyMap<string, ProjectionHandler<Tx>> = new Map();
  /** The sagas by name. */
  readonly sagas: ReadonlyMap<string, SagaEngine<Tx>> = new Map();
  /** Owner id of this runtime's leases (host:pid:uuid8). */
  readonly owner: string;
  /**
   * The tag of the units this runtime's gateway appends (`AppendRequest.origin`, a random UUID):
   * the notifications that carry it are this runtime's own commits, already woken for.
   */
  readonly origin: string;
  /** Spans and metrics of this runtime (`enabled` once `@opentelemetry/api` was found). */
  readonly telemetry: ChronicleTelemetry;
  private unobserveGauges: (() => void) | undefined;
  private readonly jobs: BackgroundJobs;
  private readonly logger: ChronicleLogger;
  private readonly loggerFor: (context: string) => ChronicleLogger;
  private readonly clock: Clock;
  private readonly personalData: PersonalDataStorage<Tx> | undefined;
  private lifecycle: ChronicleState = 'created';
  private starting: Promise<void> | undefined;
  /** The start itself, without the clean-up of a failed one (which waits for it). */
  private startRun: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private backfilling: Promise<void> | undefined;
  /** The last backfill failed (its start-up step gave up, or there was none to retry it): the relay's next run starts it again. */
  private backfillFailed = false;
  private unsubscribeWakeUps: (() => void) | undefined;
  private notificationsStarted = false;
  private relayBuilt: OutboxRelay | undefined;
  private deadlinesBuilt: SagaDeadlineRunner | undefined;
  private readonly config: ChronicleConfig<Tx>;
  private readonly startupStep: <T>(step: string, work: () => Promise<T>, signal: AbortSignal) => Promise<T>;

  constructor(config: ChronicleConfig<Tx>) {
    if (config === null || typeof config !== 'object') throw new ConfigurationError('createChronicle needs a configuration object.');
    if (!config.storage || typeof config.storage.journal?.append !== 'function') {
      throw new ConfigurationError('createChronicle needs `storage`: createInMemoryStorage() or createTypeOrmStorage(dataSource).');
    }
    if (!Array.isArray(config.aggregates)) throw new ConfigurationError('createChronicle needs `aggregates`: the @Aggregate classes it executes commands for.');
    this.options = resolveChronicleOptions(config.options);
    this.catalog = new AggregateCatalog(config.aggregates, config.events ?? []);
    if (config.decisions !== undefined && !Array.isArray(config.decisions)) {
      throw new ConfigurationError('createChronicle `decisions` must be a list of @DecisionHandler instances.');
    }
    this.catalog.addDecisions(config.decisions ?? []);
    if (config.personalData !== undefined && typeof config.personalData?.keyStore?.keyFor !== 'function') {
      throw new ConfigurationError('createChronicle `personalData.keyStore` must be a KeyStore: new InMemoryKeyStore(...) or new TypeOrmKeyStore(...).');
    }
    refuseUnsealedEvents(config, this.catalog.events);
    this.personalData = config.personalData
      ? withPersonalData(config.storage, { logger: (config.logger ?? consoleLogger)('PersonalData'), ...config.personalData, events: this.catalog.events })
      : undefined;
    this.storage = this.personalData ?? config.storage;
    this.telemetry = config.telemetry ?? new ChronicleTelemetry();
    const loggerFor = config.logger ?? consoleLogger;
    // Every component's lines name the trace active when they are written (once telemetry is on).
    this.loggerFor = (context) => tracedLogger(loggerFor(context), this.telemetry);
    this.logger = this.loggerFor('Chronicle');
    const clock = config.clock ?? systemClock;
    this.clock = clock;
    this.owner = newLeaseOwnerId();
    this.origin = randomUUID();
    const telemetry = this.telemetry;
    this.jobs = new BackgroundJobs(this.logger);

    // The runtime's own listener wakes the relay and the subscriptions after every local commit;
    // the list is final here: nothing is added to the gateway later.
    const wake = (recorded: readonly RecordedEvent[]): void => {
      // Nothing to wake costs nothing: a runtime without handlers or subscriptions skips it.
      if (this.options.outbox.relay && this.relayBuilt) void this.jobs.wakeGroup('outbox');
      if (this.options.subscriptions.run && this.subscriptions.size > 0) {
        void this.jobs.wakeGroup('subscriptions');
        // A job's wake-up during its run only asks for one more run after it; a saga's step in
        // progress reads on now when the commit holds an event it handles (see `wakeFor`).
        for (const runner of this.subscriptions.values()) runner.wakeFor(recorded);
      }
    };
    const wakeAfterCommit: PostCommitListener = {
      // In the root context: a drain this commit starts goes on to handle the events of later
      // commands too, and must not log them, nor run their work, inside this command's trace.
      afterCommit: ({ recorded }) => telemetry.runDetached(wake, recorded),
    };
    const { storage } = this;
    this.gateway = new CommandGateway(
      {
        catalog: this.catalog,
        journal: storage.journal,
        snapshots: storage.snapshots,
        clock,
        logger: this.loggerFor(CommandGateway.name),
        interceptors: [...(config.interceptors ?? [])],
        // The wake-up first: the runtime's own notifications are skipped (below), so a slow
        // listener of the application must not hold its relay and subscriptions back.
        listeners: [wakeAfterCommit, ...(config.listeners ?? [])],
        telemetry,
        // Its units' notifications come back to this runtime too: `startNotifications` skips them,
        // `wakeAfterCommit` has woken everything already; a commit whose answer was lost wakes too.
        origin: this.origin,
        onUnsettledAppend: () => telemetry.runDetached(wake, []),
      },
      this.options.gateway,
    );
    this.config = config;
    this.startupStep = config.startupStep ?? ((_step, work) => work());
    // Without late components everything is built now, so a misconfiguration fails here.
    if (config.components === undefined) this.compose({});
  }

  /** The relay of the outbox handlers (undefined without handlers, and before `start()` with late components). */
  get relay(): OutboxRelay | undefined {
    return this.relayBuilt;
  }

  /** Fires the sagas' deadlines (undefined without sagas, and before `start()` with late components). */
  get deadlines(): SagaDeadlineRunner | undefined {
    return this.deadlinesBuilt;
  }

  /** Builds the relay, a runner per projection and saga, the deadline runner and the jobs: once. */
  private compose(late: ChronicleComponents): void {
    const config = this.config;
    const { storage } = this;
    const clock = this.clock;
    const telemetry = this.telemetry;
    const serializer = this.gateway.eventSerializer;
    // The late decisions' events are checked before the catalog holds them: once it does, the
    // gateway executes their commands, and one running between here and the failed start's
    // stop() would write a personal event no one seals.
    const lateEvents = new EventRegistry();
    for (const instance of late.decisions ?? []) {
      // What is not a decision handler instance, or names classes without @Event, is refused by
      // addDecisions with its own message.
      if (instance === null || typeof instance !== 'object') continue;
      lateEvents.register(...decisionHandlerEventClasses(instance.constructor as ClassType).filter((eventClass) => getEventMetadata(eventClass) !== undefined));
    }
    refuseUnsealedEvents(config, lateEvents);
    // Registered before the relay and the runners read events of the types they fold or emit.
    this.catalog.addDecisions(late.decisions ?? []);

    const handlers = [...(config.outboxHandlers ?? []), ...(late.outboxHandlers ?? [])].map(toRelayedHandler);
    this.relayBuilt =
      handlers.length === 0
        ? undefined
        : new OutboxRelay(
            { store: storage.outbox, journal: storage.journal, serializer, clock, logger: this.loggerFor(OutboxRelay.name), telemetry },
            handlers,
            { owner: this.owner, leaseMs: this.options.outbox.leaseMs },
          );

    const subscriptions = this.subscriptions as Map<string, SubscriptionRunner<Tx>>;
    const projections = this.projections as Map<string, ProjectionHandler<Tx>>;
    const sagas = this.sagas as Map<string, SagaEngine<Tx>>;
    const settings = this.options.subscriptions;
    const deps = { journal: storage.journal, store: storage.checkpoints, serializer, clock, telemetry };
    for (const instance of [...(config.projections ?? []), ...(late.projections ?? [])]) {
      const handler = new ProjectionHandler<Tx>(instance);
      if (projections.has(handler.name)) throw new ConfigurationError(`Projection name "${handler.name}" is used twice; projection names must be unique.`);
      projections.set(handler.name, handler);
      const runner = new SubscriptionRunner<Tx>({ ...deps, logger: this.loggerFor(`Projection ${handler.name}`) }, handler, {
        name: projectionSubscriptionName(handler.name),
        owner: this.owner,
        leaseMs: settings.leaseMs,
        ...(handler.options.batchSize === undefined ? {} : { batchSize: handler.options.batchSize }),
        ...(handler.options.maxAttempts === undefined ? {} : { maxAttempts: handler.options.maxAttempts }),
      });
      subscriptions.set(runner.name, runner);
    }
    const dispatcher: SagaCommandDispatcher = config.dispatcher ?? ((command, metadata) => this.gateway.execute(command, metadata));
    for (const instance of [...(config.sagas ?? []), ...(late.sagas ?? [])]) {
      const engine = new SagaEngine<Tx>(instance, { store: storage.sagas, dispatcher, clock, logger: this.loggerFor(`Saga ${instance.constructor.name}`) });
      if (sagas.has(engine.name)) throw new ConfigurationError(`Saga name "${engine.name}" is used twice; saga names must be unique.`);
      sagas.set(engine.name, engine);
      const runner = new SubscriptionRunner<Tx>({ ...deps, logger: this.loggerFor(`Saga ${engine.name}`) }, engine, {
        name: sagaSubscriptionName(engine.name),
        owner: this.owner,
        // Instances are handled concurrently (their commands share group commits); a transaction
        // holds at most one event per instance, so the next event of one sees what this one saved.
        commitEvery: SAGA_DEFAULTS.commitEvery,
        concurrency: settings.sagaConcurrency,
        leaseMs: settings.leaseMs,
        ...(engine.options.maxAttempts === undefined ? {} : { maxAttempts: engine.options.maxAttempts }),
      });
      subscriptions.set(runner.name, runner);
    }
    this.deadlinesBuilt =
      sagas.size === 0
        ? undefined
        : new SagaDeadlineRunner(
            storage.sagas,
            // The deadline runner never handles a transaction itself: the engines' Tx does not matter to it.
            [...sagas.values()] as unknown as SagaEngine<unknown>[],
            { owner: this.owner, clock },
            this.loggerFor(SagaDeadlineRunner.name),
          );
    this.addJobs();
  }

  /** Where this runtime is in its life. */
  get state(): ChronicleState {
    return this.lifecycle;
  }

  /** Timers this runtime holds now (0 before `start()` and after `stop()`). */
  get timerCount(): number {
    return this.jobs.timerCount;
  }

  /**
   * Migrates (unless `migrate: false`), registers the outbox handlers with the store, starts the
   * backfills, the notifications and every timer. Idempotent: a second call gets the first one's
   * promise. A failed start leaves the runtime stopped.
   */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new ConfigurationError('This Chronicle runtime was stopped; create a new one to start again.'));
    this.starting ??= (this.startRun = this.doStart()).catch(async (error: unknown) => {
      await this.stop();
      throw error;
    });
    return this.starting;
  }

  /**
   * Refuses new commands, stops every timer and wake-up, lets the runners, the deadline runner
   * and the relay finish their step in flight and release their leases, then waits for the
   * commands in flight (the sagas' included). Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** Executes a command (see `CommandGateway.execute`); refused once `stop()` was called. */
  execute<E extends object = object, S extends object = object>(command: object, metadata: CommandMetadata = {}): Promise<CommandResult<E, S>> {
    if (this.stopping) {
      return Promise.reject(
        new GatewayOverloadedError('shutting-down', command?.constructor?.name ?? 'command', 'this Chronicle runtime is stopping'),
      );
    }
    return this.gateway.execute<E, S>(command, metadata);
  }

  /**
   * Crypto-shredding: destroys the subject's data key (see `PersonalDataStorage.forget`) and drops
   * the listed aggregates (and every kept decision state) from this instance's cache, so that their
   * next command replays them with the replacements. Resolves with when the key was destroyed.
   * Throws `ConfigurationError` when the runtime was built without `personalData`.
   */
  async forget(subject: string, options: { evict?: ReadonlyArray<{ aggregate: ClassType; id: string }> } = {}): Promise<ForgetResult> {
    if (!this.personalData) {
      throw new ConfigurationError('forget() needs the runtime built with `personalData: { keyStore }`; personal fields are stored in plain text without it.');
    }
    const result = await this.personalData.forget(subject);
    for (const { aggregate, id } of options.evict ?? []) this.gateway.evict(aggregate, id);
    this.gateway.clearDecisionStates();
    return result;
  }

  /**
   * Crypto-shredding: re-wraps every data key with the current master key (see
   * `KeyStore.rotateMasterKey`) while commands keep running; no event is rewritten. Run it once
   * after deploying `masterKeys: { current: newKey, previous: [oldKey] }`, then drop the old key.
   * Throws `ConfigurationError` when the runtime was built without `personalData`.
   */
  async rotateMasterKey(options: { batchSize?: number } = {}): Promise<RotationResult> {
    if (!this.personalData) {
      throw new ConfigurationError('rotateMasterKey() needs the runtime built with `personalData: { keyStore }`.');
    }
    return this.personalData.rotateMasterKey(options);
  }

  /** The current state of an aggregate, or undefined when it does not exist. */
  read<T extends object>(aggregateClass: ClassType<T>, aggregateId: string): Promise<AggregateView<T> | undefined> {
    return this.gateway.read(aggregateClass, aggregateId);
  }

  /** The state of an aggregate at a version (a replayed result's state). */
  readAt<T extends object>(aggregateClass: ClassType<T>, aggregateId: string, version: number): Promise<AggregateView<T> | undefined> {
    return this.gateway.readAt(aggregateClass, aggregateId, version);
  }

  /**
   * Relays every handler, drains every subscription and fires due deadlines now, instead of
   * waiting for a tick (tests, tools, a worker about to stop). Nothing happens before `start()`.
   */
  async flush(): Promise<void> {
    if (this.lifecycle !== 'running') return;
    await this.backfilling;
    const relayJobs = this.jobs.names().filter((name) => name.startsWith('outbox:relay:'));
    await this.jobs.runNow(relayJobs);
    await this.jobs.runNow(this.jobs.names().filter((name) => name.startsWith('subscription:')));
    if (this.jobs.names().includes('saga-deadlines')) await this.jobs.runNow(['saga-deadlines']);
  }

  private addJobs(): void {
    const { outbox, subscriptions } = this.options;
    const relay = this.relay;
    // The relay's stop waits for its batches in flight and gives back its leases.
    if (relay) this.jobs.onStop(() => relay.stop());
    if (relay && outbox.relay) {
      for (const name of relay.handlerNames()) {
        this.jobs.add({
          name: `outbox:relay:${name}`,
          everyMs: outbox.pollIntervalMs,
          group: 'outbox',
          runAtStart: true,
          run: (signal) => {
            if (this.backfillFailed) this.startBackfill(relay, signal);
            return relay.drain(name);
          },
        });
      }
      if (outbox.pruneIntervalMs > 0) {
        this.jobs.add({ name: 'outbox:prune', everyMs: outbox.pruneIntervalMs, run: () => relay.prune(outbox.retentionMs) });
      }
    }
    if (subscriptions.run) {
      for (const runner of this.subscriptions.values()) {
        this.jobs.add({
          name: `subscription:${runner.name}`,
          everyMs: subscriptions.pollIntervalMs,
          group: 'subscriptions',
          runAtStart: true,
          run: () => runner.wake(),
          stop: () => runner.stop(),
        });
      }
      const deadlines = this.deadlines;
      if (deadlines) {
        this.jobs.add({
          name: 'saga-deadlines',
          everyMs: subscriptions.deadlinePollIntervalMs,
          runAtStart: true,
          run: () => deadlines.runOnce(),
          stop: () => deadlines.stop(),
        });
        if (subscriptions.pruneIntervalMs > 0) {
          this.jobs.add({
            name: 'sagas:prune',
            everyMs: subscriptions.pruneIntervalMs,
            run: () => this.storage.sagas.pruneCompleted(new Date(this.clock.now().getTime() - subscriptions.sagaRetentionMs)),
          });
        }
      }
    }
    if (this.options.pruneIntervalMs > 0) {
      this.jobs.add({
        name: 'commands:prune',
        everyMs: this.options.pruneIntervalMs,
        run: () => this.gateway.pruneCommandOutcomes(this.options.commandRetentionMs),
      });
    }
  }

  /**
   * Runs the backfill of the handlers not yet ready, through the host's start-up step. A failure
   * is not final: the relay's jobs start it again at their next run (every poll interval), so a
   * handler whose backfill met a database restart is relayed once the database is back, with or
   * without a host that retries start-up steps.
   */
  private startBackfill(relay: OutboxRelay, signal: AbortSignal): void {
    this.backfillFailed = false;
    this.backfilling = this.startupStep('outbox backfill', () => relay.backfill(), signal).then(
      () => void this.jobs.wakeGroup('outbox'),
      (error: unknown) => {
        if (this.stopping) return;
        this.backfillFailed = true;
        this.logger.error(`Outbox backfill failed: ${(error as Error).message}; retried at the relay's next run.`, (error as Error).stack);
      },
    );
  }

  private async doStart(): Promise<void> {
    this.lifecycle = 'starting';
    if (this.config.components !== undefined) this.compose(this.config.components());
    const signal = this.jobs.signal;
    if (this.options.telemetry) await this.telemetry.activate();
    if (this.telemetry.enabled) {
      this.unobserveGauges = observeRuntimeGauges(this.telemetry, {
        storage: this.storage as ChronicleStorage<unknown>,
        gateway: this.gateway,
        relay: this.relay,
        subscriptions: this.subscriptions as ReadonlyMap<string, SubscriptionRunner<unknown>>,
        sagaNames: [...this.sagas.keys()],
        clock: this.clock,
        logger: this.logger,
      });
    }
    if (this.options.migrate) await this.startupStep('Chronicle migrations', () => this.storage.migrate(), signal);
    // Every instance writes the entries of every handler it knows, relaying or not.
    const relayToSubscribe = this.relay;
    if (relayToSubscribe) await this.startupStep('outbox handler registration', () => relayToSubscribe.subscribe(), signal);
    if (this.stopping) return;
    if (this.relay && this.options.outbox.relay) {
      const relay = this.relay;
      // In the background, so commands are not held up; a handler is relayed once its backfill is done.
      this.startBackfill(relay, signal);
    }
    await this.startNotifications();
    this.jobs.start();
    this.lifecycle = 'running';
  }

  /** One connection serves the relay and the subscriptions; each listens if its `listen` is on. */
  private async startNotifications(): Promise<void> {
    const source = this.storage.notifications;
    const outbox = this.options.outbox.listen && this.options.outbox.relay && this.relay !== undefined;
    const subscriptions = this.options.subscriptions.listen && this.options.subscriptions.run && this.subscriptions.size > 0;
    if (!source || (!outbox && !subscriptions)) return;
    this.unsubscribeWakeUps = source.onWake((origin) => {
      // A commit of this runtime's gateway: its own listener woke the relay and the subscriptions
      // after it; a second wake-up would only read the feed and claim the outbox once more for nothing.
      if (origin === this.origin) return;
      if (outbox) void this.jobs.wakeGroup('outbox');
      if (subscriptions) void this.jobs.wakeGroup('subscriptions');
    });
    try {
      this.notificationsStarted = true;
      await source.start();
    } catch (error) {
      this.logger.warn(`Notifications are off (${(error as Error).message}); polling only.`);
    }
  }

  private async doStop(): Promise<void> {
    if (this.lifecycle === 'created') {
      this.lifecycle = 'stopped';
      await this.gateway.close();
      return;
    }
    this.lifecycle = 'stopping';
    await this.startRun?.catch(() => undefined);
    this.unobserveGauges?.();
    this.unsubscribeWakeUps?.();
    if (this.notificationsStarted) await this.storage.notifications?.stop().catch(() => undefined);
    await this.jobs.stop();
    await this.backfilling;
    await this.gateway.close();
    this.lifecycle = 'stopped';
  }
}

/** Whether a storage bundle was already wrapped by `withPersonalData` (it seals personal fields itself). */
function sealsPersonalData(storage: ChronicleStorage<unknown>): boolean {
  const candidate = storage as Partial<PersonalDataStorage<unknown>>;
  return typeof candidate.forget === 'function' && candidate.cipher !== undefined;
}

/**
 * Refuses the `@PersonalData` event types of `events` (the catalog's, or late decisions' not yet
 * in it) that this runtime's storage would not seal: with no key store and a plain storage, every
 * one; over a storage wrapped by `withPersonalData`, those its registry does not declare alike.
 * With `personalData` the runtime seals by the catalog's own registry, which later decisions join.
 */
function refuseUnsealedEvents(config: ChronicleConfig<unknown>, events: EventRegistry): void {
  if (config.personalData) return;
  if (!sealsPersonalData(config.storage)) {
    refusePlainPersonalData(events, 'createChronicle', 'Give it `personalData: { keyStore }`, or a storage wrapped by withPersonalData.');
    return;
  }
  // Refused rather than registered there: the registry is the application's, and what else wraps
  // a storage with it or its list (a tool, a worker built without this runtime) would still write
  // these events in clear; adding them from here would hide that gap in this process only, by a
  // side effect on a shared object. A refusal gets the list itself corrected, for every user.
  refuseUnsealedPersonalData(
    events,
    (config.storage as Partial<PersonalDataStorage<unknown>>).cipher?.registry,
    'createChronicle',
    'Register these event classes in the EventRegistry given to withPersonalData({ events }), or give createChronicle the unwrapped storage and `personalData: { keyStore }` (it then seals by its own catalog).',
  );
}
