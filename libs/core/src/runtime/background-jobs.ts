import { ConfigurationError } from '../errors/configuration.error.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';

/** Which wake-ups reach a job besides its own timer. */
export type JobGroup = 'outbox' | 'subscriptions';

/** One recurring piece of background work. */
export interface BackgroundJob {
  /** Unique name, used in logs. */
  name: string;
  /** Period of its timer (the fallback when no wake-up arrives). */
  everyMs: number;
  /** One run; errors are logged, the next tick or wake-up tries again. */
  run: (signal: AbortSignal) => Promise<unknown>;
  /** Woken with this group (after local commits, on notifications). */
  group?: JobGroup;
  /** Runs once as soon as the jobs start. @default false */
  runAtStart?: boolean;
  /** Called when the jobs stop, to end the work in flight (awaited with it). */
  stop?: () => Promise<void>;
}

interface JobState {
  job: BackgroundJob;
  timer?: ReturnType<typeof setInterval>;
  running?: Promise<void>;
  again: boolean;
}

/**
 * Owns every timer and wake-up of one Chronicle runtime. Each job is single-flight: a tick or a
 * wake-up during a run asks for exactly one more run after it, never a concurrent one. Timers
 * are unref'd (they never keep the process alive). `stop` aborts the signal every run receives,
 * clears the timers, calls each job's `stop`, and resolves once nothing runs any more.
 */
export class BackgroundJobs {
  private readonly jobs = new Map<string, JobState>();
  private readonly controller = new AbortController();
  private readonly stopHooks: Array<() => Promise<void>> = [];
  private started = false;

  constructor(private readonly logger: ChronicleLogger) {}

  /** Aborted when the jobs stop. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Timers alive now (0 before `start` and after `stop`). */
  get timerCount(): number {
    let count = 0;
    for (const state of this.jobs.values()) if (state.timer !== undefined) count++;
    return count;
  }

  /** The job names, in the order they were added. */
  names(): string[] {
    return [...this.jobs.keys()];
  }

  /** Adds a job (before `start`). */
  add(job: BackgroundJob): void {
    if (this.started) throw new ConfigurationError(`Background job "${job.name}" is added after the jobs started; add every job first.`);
    if (this.jobs.has(job.name)) throw new ConfigurationError(`Background job "${job.name}" is added twice.`);
    if (!Number.isInteger(job.everyMs) || job.everyMs < 1) {
      throw new ConfigurationError(`Background job "${job.name}": everyMs must be a positive integer, got ${String(job.everyMs)}.`);
    }
    this.jobs.set(job.name, { job, again: false });
  }

  /** Adds work to end when the jobs stop (awaited with the runs in flight). */
  onStop(hook: () => Promise<void>): void {
    this.stopHooks.push(hook);
  }

  /** Starts every timer and the first run of the `runAtStart` jobs. */
  start(): void {
    if (this.started || this.signal.aborted) return;
    this.started = true;
    for (const state of this.jobs.values()) {
      state.timer = setInterval(() => void this.trigger(state), state.job.everyMs);
      state.timer.unref();
    }
    for (const state of this.jobs.values()) if (state.job.runAtStart) void this.trigger(state);
  }

  /** Runs a job now, or once more after its run in progress; resolves when that run is over. */
  wake(name: string): Promise<void> {
    const state = this.jobs.get(name);
    if (!state) return Promise.reject(new ConfigurationError(`No background job "${name}"; known: ${this.names().join(', ') || 'none'}.`));
    return this.trigger(state);
  }

  /** Wakes every job of a group. */
  wakeGroup(group: JobGroup): Promise<void> {
    return this.settle([...this.jobs.values()].filter((state) => state.job.group === group).map((state) => this.trigger(state)));
  }

  /** Runs every job of the given names now and waits for them. */
  async runNow(names: readonly string[]): Promise<void> {
    await this.settle(names.map((name) => this.wake(name)));
  }

  /**
   * Aborts the signal, clears every timer, calls each job's `stop` and waits for the runs in
   * flight. Idempotent.
   */
  async stop(): Promise<void> {
    this.controller.abort();
    for (const state of this.jobs.values()) {
      if (state.timer !== undefined) clearInterval(state.timer);
      state.timer = undefined;
    }
    const stops = [
      ...[...this.jobs.values()].map((state) => state.job.stop?.().catch((error: unknown) => this.failed(state.job.name, error, 'stopping'))),
      ...this.stopHooks.map((hook) => hook().catch((error: unknown) => this.failed('stop hook', error, 'stopping'))),
    ];
    await Promise.allSettled([...stops, ...[...this.jobs.values()].map((state) => state.running)]);
  }

  private trigger(state: JobState): Promise<void> {
    if (!this.started || this.signal.aborted) return Promise.resolve();
    if (state.running) {
      state.again = true;
      return state.running;
    }
    state.running = (async () => {
      do {
        state.again = false;
        try {
          await state.job.run(this.signal);
        } catch (error) {
          this.failed(state.job.name, error, 'running');
        }
      } while (state.again && !this.signal.aborted);
    })().finally(() => {
      state.running = undefined;
    });
    return state.running;
  }

  private failed(name: string, error: unknown, doing: string): void {
    this.logger.error(`Background job "${name}" failed ${doing}: ${(error as Error)?.message ?? String(error)}`, (error as Error)?.stack);
  }

  private async settle(runs: Array<Promise<void>>): Promise<void> {
    await Promise.allSettled(runs);
  }
}
