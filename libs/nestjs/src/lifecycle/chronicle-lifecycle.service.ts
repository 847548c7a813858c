import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import { SchedulerRegistry } from '@nestjs/schedule';
import { COMMAND_OUTCOME_DEFAULTS, CommandGateway, ConfigurationError, type ChronicleStorage } from '@chronicle/core';
import { CHRONICLE_EXTRAS, CHRONICLE_STORAGE, PRUNE_COMMAND_OUTCOMES_JOB } from '../constants/chronicle.constants.js';
import { EVENT_SOURCING_MODULE_OPTIONS } from '../event-sourcing.module-definition.js';
import type { EventSourcingModuleExtras, EventSourcingModuleOptions } from '../options/event-sourcing-module-options.interface.js';
import { runStartupStep } from './startup-step.js';

/**
 * Start-up checks, the migrations, the pruning job and the drain on shutdown. Jobs are registered in
 * `@nestjs/schedule`'s SchedulerRegistry when the app imported `ScheduleModule.forRoot()`; the
 * library never imports that module itself, so nothing runs twice.
 */
@Injectable()
export class ChronicleLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ChronicleLifecycle.name);
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly gateway: CommandGateway,
    @Inject(EVENT_SOURCING_MODULE_OPTIONS) private readonly options: EventSourcingModuleOptions,
    @Inject(CHRONICLE_EXTRAS) private readonly extras: EventSourcingModuleExtras,
    @Inject(CHRONICLE_STORAGE) private readonly storage: ChronicleStorage,
    @Optional() private readonly schedulerRegistry?: SchedulerRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    try {
      this.moduleRef.get(CommandBus, { strict: false });
    } catch {
      throw new ConfigurationError(
        'EventSourcingModule routes commands through @nestjs/cqrs: import CqrsModule.forRoot() in the application module.',
      );
    }
    for (const type of this.extras.interceptors ?? []) this.gateway.addInterceptor(this.resolve(type, 'interceptor'));
    for (const type of this.extras.listeners ?? []) this.gateway.addListener(this.resolve(type, 'listener'));
    // Before any application's bootstrap (the relay registers its handlers then): one ordered step
    // under the storage's lock, retried while the database restarts; each migration commits with
    // its bookkeeping row, so a run cut short resumes where it stopped.
    if (this.options.storage !== 'in-memory' && this.options.migrationsRun !== false) {
      await runStartupStep(this.options, 'Chronicle migrations', () => this.storage.migrate());
    }
  }

  private resolve<T>(type: new (...args: never[]) => T, role: string): T {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch {
      throw new ConfigurationError(
        `The command ${role} ${type.name} is listed in EventSourcingModule but is not a provider: add it to a module's providers.`,
      );
    }
  }

  onApplicationBootstrap(): void {
    const interval = this.options.pruneIntervalMs ?? COMMAND_OUTCOME_DEFAULTS.pruneIntervalMs;
    if (interval <= 0) return;
    this.pruneTimer = setInterval(() => this.pruneOnce(), interval);
    this.pruneTimer.unref();
    this.schedulerRegistry?.addInterval(PRUNE_COMMAND_OUTCOMES_JOB, this.pruneTimer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.pruneTimer) {
      clearInterval(this.pruneTimer);
      if (this.schedulerRegistry?.doesExist('interval', PRUNE_COMMAND_OUTCOMES_JOB)) {
        this.schedulerRegistry.deleteInterval(PRUNE_COMMAND_OUTCOMES_JOB);
      }
    }
    await this.pruning;
    // The relay and the subscriptions share this connection; they stopped listening to it themselves.
    await this.storage.notifications?.stop().catch(() => undefined);
    await this.gateway.close();
  }

  /** One pruning pass; single-flight, so a slow pass is never overlapped by the next tick. */
  pruneOnce(): Promise<void> {
    this.pruning ??= this.gateway
      .pruneCommandOutcomes(this.options.commandRetentionMs ?? COMMAND_OUTCOME_DEFAULTS.retentionMs)
      .then((count) => {
        if (count > 0) this.logger.log(`Pruned ${count} command outcomes past retention.`);
      })
      .catch((error: unknown) => this.logger.error(`Pruning command outcomes failed: ${(error as Error).message}`))
      .finally(() => {
        this.pruning = undefined;
      });
    return this.pruning;
  }
}
