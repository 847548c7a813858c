import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { SchedulerRegistry } from '@nestjs/schedule';
import {
  CommandGateway,
  ConfigurationError,
  ProjectionHandler,
  SAGA_DEADLINE_DEFAULTS,
  SAGA_DEFAULTS,
  SUBSCRIPTION_DEFAULTS,
  SagaDeadlineRunner,
  SagaEngine,
  SubscriptionRunner,
  newLeaseOwnerId,
  projectionSubscriptionName,
  sagaSubscriptionName,
  withCommandMetadata,
  type ChronicleStorage,
  type CommandResult,
  type SagaCommandDispatcher,
} from '@chronicle/core';
import {
  CHRONICLE_STORAGE,
  PRUNE_SAGAS_JOB,
  SAGA_DEADLINES_JOB,
  SUBSCRIPTION_JOB_PREFIX,
} from '../constants/chronicle.constants.js';
import { EVENT_SOURCING_MODULE_OPTIONS } from '../event-sourcing.module-definition.js';
import type { EventSourcingModuleOptions } from '../options/event-sourcing-module-options.interface.js';
import { ProjectionExplorer } from '../projections/projection.explorer.js';
import { SagaExplorer } from '../sagas/saga.explorer.js';
import { IntervalJobs } from '../scheduling/interval-jobs.js';
import { startWakeUps } from '../scheduling/start-wake-ups.js';

/** A projection as this instance runs it. */
export interface RunningProjection {
  handler: ProjectionHandler<unknown>;
  runner: SubscriptionRunner<unknown>;
}

/** A saga as this instance runs it. */
export interface RunningSaga {
  engine: SagaEngine<unknown>;
  runner: SubscriptionRunner<unknown>;
}

/**
 * Runs this instance's share of the `@Projection` and `@Saga` subscriptions and the saga deadlines:
 * a runner per subscription (one active across instances, through the checkpoint lease), woken
 * after every local commit and by the storage's notifications (PostgreSQL LISTEN, one connection
 * shared with the relay), polled as the fallback (jobs in
 * `@nestjs/schedule`'s SchedulerRegistry); a deadline runner; a job pruning saga tombstones.
 * Sagas dispatch their commands through the CommandBus (the gateway without `@nestjs/cqrs`).
 */
@Injectable()
export class SubscriptionsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SubscriptionsService.name);
  private readonly projections = new Map<string, RunningProjection>();
  private readonly sagas = new Map<string, RunningSaga>();
  private readonly jobs: IntervalJobs;
  private deadlines: SagaDeadlineRunner | undefined;
  private started = false;
  private stopping = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly projectionExplorer: ProjectionExplorer,
    private readonly sagaExplorer: SagaExplorer,
    private readonly gateway: CommandGateway,
    @Inject(CHRONICLE_STORAGE) private readonly storage: ChronicleStorage,
    @Inject(EVENT_SOURCING_MODULE_OPTIONS) private readonly options: EventSourcingModuleOptions,
    @Optional() private readonly commandBus?: CommandBus,
    @Optional() schedulerRegistry?: SchedulerRegistry,
  ) {
    this.jobs = new IntervalJobs(schedulerRegistry);
  }

  async onApplicationBootstrap(): Promise<void> {
    const settings = this.options.subscriptions ?? {};
    const owner = newLeaseOwnerId();
    const deps = { journal: this.storage.journal, store: this.storage.checkpoints, serializer: this.gateway.eventSerializer };
    for (const handler of this.projectionExplorer.explore()) {
      const runner = new SubscriptionRunner(
        { ...deps, logger: new Logger(`Projection ${handler.name}`) },
        handler,
        {
          name: projectionSubscriptionName(handler.name),
          owner,
          ...(settings.leaseMs === undefined ? {} : { leaseMs: settings.leaseMs }),
          ...(handler.options.batchSize === undefined ? {} : { batchSize: handler.options.batchSize }),
          ...(handler.options.maxAttempts === undefined ? {} : { maxAttempts: handler.options.maxAttempts }),
        },
      );
      this.projections.set(handler.name, { handler, runner });
    }
    const dispatcher: SagaCommandDispatcher = (command, metadata) =>
      this.commandBus
        ? (this.commandBus.execute(withCommandMetadata(command, metadata)) as Promise<CommandResult>)
        : this.gateway.execute(command, metadata);
    for (const instance of this.sagaExplorer.explore()) {
      const engine = new SagaEngine(instance, { store: this.storage.sagas, dispatcher, logger: new Logger(`Saga ${instance.constructor.name}`) });
      const runner = new SubscriptionRunner({ ...deps, logger: new Logger(`Saga ${engine.name}`) }, engine, {
        name: sagaSubscriptionName(engine.name),
        owner,
        // Instances are handled concurrently (their commands share group commits); a transaction
        // holds at most one event per instance, so the next event of one sees what this one saved.
        commitEvery: SAGA_DEFAULTS.commitEvery,
        concurrency: settings.sagaConcurrency ?? SAGA_DEFAULTS.concurrency,
        ...(settings.leaseMs === undefined ? {} : { leaseMs: settings.leaseMs }),
        ...(engine.options.maxAttempts === undefined ? {} : { maxAttempts: engine.options.maxAttempts }),
      });
      this.sagas.set(engine.name, { engine, runner });
    }
    if (this.projections.size + this.sagas.size === 0) return;

    // Every instance notifies, running subscriptions or not (the storage bundle turned it on).
    if (settings.run === false) return;
    this.started = true;

    if (this.sagas.size > 0) {
      this.deadlines = new SagaDeadlineRunner(this.storage.sagas, [...this.sagas.values()].map((s) => s.engine), { owner }, new Logger(SagaDeadlineRunner.name));
    }
    this.gateway.addListener({ afterCommit: () => this.wakeAll() });
    const pollMs = settings.pollIntervalMs ?? SUBSCRIPTION_DEFAULTS.pollIntervalMs;
    for (const runner of this.runners()) this.jobs.add(`${SUBSCRIPTION_JOB_PREFIX}${runner.name}`, pollMs, () => void runner.wake());
    if (this.deadlines) {
      const deadlines = this.deadlines;
      this.jobs.add(SAGA_DEADLINES_JOB, settings.deadlinePollIntervalMs ?? SAGA_DEADLINE_DEFAULTS.pollIntervalMs, () => {
        void deadlines.runOnce().catch((error: unknown) => this.logger.error(`Firing saga deadlines failed: ${(error as Error).message}`));
      });
      const pruneMs = settings.pruneIntervalMs ?? SAGA_DEFAULTS.pruneIntervalMs;
      if (pruneMs > 0) {
        const retentionMs = settings.sagaRetentionMs ?? SAGA_DEFAULTS.retentionMs;
        this.jobs.add(PRUNE_SAGAS_JOB, pruneMs, () => {
          void this.storage.sagas
            .pruneCompleted(new Date(Date.now() - retentionMs))
            .catch((error: unknown) => this.logger.error(`Pruning saga tombstones failed: ${(error as Error).message}`));
        });
      }
    }
    if (settings.listen !== false) {
      this.unsubscribe = await startWakeUps(this.storage.notifications, () => this.wakeAll(), this.logger, 'Subscription', pollMs);
    }
    this.wakeAll();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.jobs.clear();
    this.unsubscribe?.();
    await this.deadlines?.stop();
    await Promise.allSettled(this.runners().map((runner) => runner.stop()));
  }

  /** Every runner of this instance (active or standby). */
  runners(): SubscriptionRunner<unknown>[] {
    return [...[...this.projections.values()].map((p) => p.runner), ...[...this.sagas.values()].map((s) => s.runner)];
  }

  /** The projection named `name`, or a `ConfigurationError` naming the known ones. */
  projection(name: string): RunningProjection {
    const found = this.projections.get(name);
    if (!found) throw new ConfigurationError(`No projection "${name}"; known: ${[...this.projections.keys()].join(', ') || 'none'}.`);
    return found;
  }

  /** The saga named `name`, or a `ConfigurationError` naming the known ones. */
  saga(name: string): RunningSaga {
    const found = this.sagas.get(name);
    if (!found) throw new ConfigurationError(`No saga "${name}"; known: ${[...this.sagas.keys()].join(', ') || 'none'}.`);
    return found;
  }

  /** The runner of a subscription name (`projection:<name>` or `saga:<name>`). */
  runner(subscription: string): SubscriptionRunner<unknown> {
    const found = this.runners().find((runner) => runner.name === subscription);
    if (!found) {
      throw new ConfigurationError(`No subscription "${subscription}"; known: ${this.runners().map((r) => r.name).join(', ') || 'none'}.`);
    }
    return found;
  }

  /** Drains every subscription and fires due deadlines now (tests and tools use it instead of waiting for a poll). */
  async flush(): Promise<void> {
    if (!this.started) return;
    await Promise.all(this.runners().map((runner) => runner.wake()));
    await this.deadlines?.runOnce();
  }

  /** Fires the saga deadlines due now. */
  async fireDeadlines(): Promise<number> {
    return this.started && this.deadlines ? this.deadlines.runOnce() : 0;
  }

  private wakeAll(): void {
    if (this.stopping || !this.started) return;
    for (const runner of this.runners()) void runner.wake();
  }
}
