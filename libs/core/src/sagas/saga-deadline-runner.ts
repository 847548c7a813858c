import { newLeaseOwnerId } from '../ports/lease-owner.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { consoleLogger, type ChronicleLogger } from '../logging/chronicle-logger.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import type { SagaStore } from '../ports/saga-store.port.js';
import type { SagaEngine } from './saga-engine.js';

/** Options of {@link SagaDeadlineRunner}. */
export interface SagaDeadlineRunnerOptions {
  /** Identifies this runner in deadline leases. @default newLeaseOwnerId() (host:pid:uuid8) */
  owner?: string;
  /** How long a claimed deadline is this runner's. @default 30000 */
  leaseMs?: number;
  /** Deadlines claimed per step. @default 50 */
  batchSize?: number;
  /** Failed firings before a deadline is parked. @default 5 */
  maxAttempts?: number;
  /** Wait after the first failed firing; it doubles per failure, up to a minute. @default 1000 */
  backoffInitialMs?: number;
  /** Time source of retry times. @default systemClock */
  clock?: Clock;
}

/**
 * The saga deadline runner's defaults, the one place they are written, and how often whatever
 * drives it (the Nest module today) looks for due deadlines.
 */
export const SAGA_DEADLINE_DEFAULTS = {
  leaseMs: 30_000,
  batchSize: 50,
  maxAttempts: 5,
  backoffInitialMs: 1_000,
  pollIntervalMs: 1_000,
} as const;

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Fires due saga deadlines: claims them under a lease (any number of instances share the work),
 * runs each `@OnDeadline` handler through its saga's engine, and saves the instance with the
 * deadline marked fired in one transaction. A failing deadline is retried with backoff, then parked.
 * Single-flight; the polling belongs to the caller.
 */
export class SagaDeadlineRunner {
  readonly owner: string;
  private readonly engines = new Map<string, SagaEngine<unknown>>();
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly backoffInitialMs: number;
  private readonly logger: ChronicleLogger;
  private readonly clock: Clock;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly store: SagaStore<unknown>,
    engines: readonly SagaEngine<unknown>[],
    options: SagaDeadlineRunnerOptions = {},
    logger?: ChronicleLogger,
  ) {
    for (const engine of engines) {
      if (this.engines.has(engine.name)) throw new ConfigurationError(`Saga name "${engine.name}" is used twice.`);
      this.engines.set(engine.name, engine);
    }
    this.owner = options.owner ?? newLeaseOwnerId();
    this.leaseMs = options.leaseMs ?? SAGA_DEADLINE_DEFAULTS.leaseMs;
    this.batchSize = options.batchSize ?? SAGA_DEADLINE_DEFAULTS.batchSize;
    this.maxAttempts = options.maxAttempts ?? SAGA_DEADLINE_DEFAULTS.maxAttempts;
    this.backoffInitialMs = options.backoffInitialMs ?? SAGA_DEADLINE_DEFAULTS.backoffInitialMs;
    this.logger = logger ?? consoleLogger(SagaDeadlineRunner.name);
    this.clock = options.clock ?? systemClock;
  }

  /** Fires what is due now (single-flight); resolves with how many deadlines were handled. */
  runOnce(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    this.running ??= this.step().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  private async step(): Promise<number> {
    const due = await this.store.claimDue(this.owner, this.leaseMs, this.batchSize);
    for (const deadline of due) {
      if (this.stopped) break;
      const engine = this.engines.get(deadline.sagaName);
      if (!engine) {
        // Another application (or a retired saga) owns it: leave it to them, a little later.
        await this.store.releaseDeadline(deadline.id, this.owner, `no saga "${deadline.sagaName}" runs here`, new Date(this.clock.now().getTime() + this.leaseMs));
        continue;
      }
      try {
        await engine.fire(deadline, this.owner);
      } catch (error) {
        const attempts = deadline.attempts + 1;
        const parked = attempts >= this.maxAttempts;
        const retryAt = parked ? null : new Date(this.clock.now().getTime() + Math.min(this.backoffInitialMs * 2 ** (attempts - 1), 60_000));
        const text = message(error);
        if (parked) {
          this.logger.error(`Saga deadline ${deadline.id} parked after ${attempts} failed firings: ${text}`);
        } else {
          this.logger.warn(`Saga deadline ${deadline.id} failed (attempt ${attempts} of ${this.maxAttempts}): ${text}`);
        }
        await this.store.releaseDeadline(deadline.id, this.owner, text, retryAt).catch((releaseError: unknown) => {
          this.logger.error(`Releasing saga deadline ${deadline.id} failed: ${message(releaseError)}`);
        });
      }
    }
    return due.length;
  }
}
