import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CommandGateway, OUTBOX_RELAY_DEFAULTS, OutboxRelay, type ChronicleStorage, type RelayBatchResult } from '@chronicle/core';
import { CHRONICLE_STORAGE, OUTBOX_RELAY_JOB_PREFIX, PRUNE_OUTBOX_JOB } from '../constants/chronicle.constants.js';
import { EVENT_SOURCING_MODULE_OPTIONS } from '../event-sourcing.module-definition.js';
import type { EventSourcingModuleOptions } from '../options/event-sourcing-module-options.interface.js';
import { OutboxExplorer } from './outbox.explorer.js';
import { IntervalJobs } from '../scheduling/interval-jobs.js';
import { startWakeUps } from '../scheduling/start-wake-ups.js';
import { runStartupStep } from '../lifecycle/startup-step.js';

/**
 * Runs the outbox relay of this instance: one polling job per handler in `@nestjs/schedule`'s
 * SchedulerRegistry (the library never imports ScheduleModule itself), each single-flight, woken
 * early by the storage's notifications (PostgreSQL LISTEN, one connection shared with the
 * subscriptions). Several instances share the work through the
 * store's leases. On shutdown it finishes the batch in flight and gives back its leases.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelayService.name);
  private relay: OutboxRelay | undefined;
  private readonly jobs: IntervalJobs;
  private readonly draining = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private backfilling: Promise<void> | undefined;
  private stopping = false;
  private readonly shutdown = new AbortController();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly explorer: OutboxExplorer,
    private readonly gateway: CommandGateway,
    @Inject(CHRONICLE_STORAGE) private readonly storage: ChronicleStorage,
    @Inject(EVENT_SOURCING_MODULE_OPTIONS) private readonly options: EventSourcingModuleOptions,
    @Optional() schedulerRegistry?: SchedulerRegistry,
  ) {
    this.jobs = new IntervalJobs(schedulerRegistry);
  }

  /** The relay, once the application has started (undefined when no handler exists). */
  get current(): OutboxRelay | undefined {
    return this.relay;
  }

  async onApplicationBootstrap(): Promise<void> {
    const handlers = this.explorer.explore();
    if (handlers.length === 0) return;
    const settings = this.options.outbox ?? {};
    this.relay = new OutboxRelay(
      { store: this.storage.outbox, journal: this.storage.journal, serializer: this.gateway.eventSerializer, logger: new Logger(OutboxRelay.name) },
      handlers,
      { leaseMs: settings.leaseMs },
    );
    // Every instance writes the entries of every handler it knows, relaying or not.
    const relay = this.relay;
    await runStartupStep(this.options, 'outbox handler registration', () => relay.subscribe());
    if (settings.relay === false) return;

    // In the background, so commands are not held up; a handler is relayed once its backfill is done,
    // so a backfill that gave up leaves that handler idle until the next start: hence the retries.
    this.backfilling = runStartupStep(this.options, 'outbox backfill', () => relay.backfill(), this.shutdown.signal).catch((error: unknown) => {
      if (!this.stopping) this.logger.error(`Outbox backfill failed: ${(error as Error).message}`, (error as Error).stack);
    });
    const pollMs = settings.pollIntervalMs ?? OUTBOX_RELAY_DEFAULTS.pollIntervalMs;
    for (const name of this.relay.handlerNames()) this.jobs.add(`${OUTBOX_RELAY_JOB_PREFIX}${name}`, pollMs, () => this.wake(name));
    const pruneMs = settings.pruneIntervalMs ?? OUTBOX_RELAY_DEFAULTS.pruneIntervalMs;
    if (pruneMs > 0) {
      const retentionMs = settings.retentionMs ?? OUTBOX_RELAY_DEFAULTS.retentionMs;
      this.jobs.add(PRUNE_OUTBOX_JOB, pruneMs, () => {
        void this.relay?.prune(retentionMs).catch((error: unknown) => this.logger.error(`Pruning the outbox failed: ${(error as Error).message}`));
      });
    }
    if (settings.listen !== false) this.unsubscribe = await startWakeUps(this.storage.notifications, () => this.wakeAll(), this.logger, 'Outbox', pollMs);
    this.wakeAll();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.shutdown.abort();
    this.jobs.clear();
    this.unsubscribe?.();
    await Promise.allSettled([...this.draining.values()]);
    await this.relay?.stop();
    await this.backfilling;
  }

  /** Drains every handler now (tests and admin tools use it to avoid waiting for a poll). */
  async flush(): Promise<void> {
    if (!this.relay) return;
    await this.backfilling;
    await Promise.all(this.relay.handlerNames().map((name) => this.drain(name)));
  }

  /** Runs one batch of one handler. */
  runOnce(handler: string): Promise<RelayBatchResult> | undefined {
    return this.relay?.runOnce(handler);
  }

  private wakeAll(): void {
    for (const name of this.relay?.handlerNames() ?? []) this.wake(name);
  }

  /** Single-flight per handler: a wake-up during a drain runs one more drain after it. */
  private wake(name: string): void {
    if (this.stopping || !this.relay) return;
    if (this.draining.has(name)) {
      this.again.add(name);
      return;
    }
    void this.drain(name);
  }

  private drain(name: string): Promise<void> {
    const running = this.draining.get(name);
    if (running) return running;
    const relay = this.relay!;
    const run = (async () => {
      do {
        this.again.delete(name);
        try {
          await relay.drain(name);
        } catch (error) {
          this.logger.error(`Outbox relay of "${name}" failed a batch: ${(error as Error).message}`, (error as Error).stack);
        }
      } while (this.again.has(name) && !this.stopping);
    })().finally(() => this.draining.delete(name));
    this.draining.set(name, run);
    return run;
  }
}
