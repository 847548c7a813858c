import { ConfigurationError } from '../errors/configuration.error.js';
import { StartupTimeoutError } from '../errors/startup-timeout.error.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { consoleLogger } from '../logging/chronicle-logger.js';
import { systemClock, type Clock } from '../ports/clock.port.js';

/** Options of {@link retryStartupStep}. */
export interface StartupStepRetryOptions {
  /** Whether an error may go away by itself (the database restarting); any other error fails the step at once. */
  isTransient: (error: unknown) => boolean;
  /**
   * How long the step may keep retrying, from its first attempt; 0 means no retry. An attempt in
   * flight is not cut short (the driver's connect timeout bounds it): the deadline is checked when it fails.
   * @default 60000
   */
  deadlineMs?: number;
  /** What to check when the deadline passes; ends the {@link StartupTimeoutError}'s message. @default 'Check that the service it needs is reachable, or raise the start-up deadline.' */
  advice?: string;
  /** Where each retry is reported (once per retry). @default consoleLogger('ChronicleStartup') */
  logger?: ChronicleLogger;
  /** First pause after a failure; it doubles per failure, with jitter. @default 100 */
  initialDelayMs?: number;
  /** Longest pause between attempts. @default 5000 */
  maxDelayMs?: number;
  /** Time source (tests pass a manual clock together with `sleep`). @default the wall clock */
  clock?: Clock;
  /** Waits between attempts; resolves early when `signal` aborts. @default a timer */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Stops retrying (the application is shutting down): the last error is rethrown. */
  signal?: AbortSignal;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
}

/** The default of {@link StartupStepRetryOptions.deadlineMs}. */
export const DEFAULT_STARTUP_DEADLINE_MS = 60_000;

function timerSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs one start-up step, retrying it while it fails with errors `isTransient` accepts: pauses
 * grow exponentially (with jitter, so instances restarted together do not retry in lockstep), each
 * retry is logged once with the step, the error and the pause, and past `deadlineMs` a
 * {@link StartupTimeoutError} names the step and the last error. Any other error is rethrown at
 * once: retrying bad credentials or a broken migration only hides them.
 *
 * The step must be safe to run again from the start after a failure (migrations under their lock,
 * a read, a subscription upsert are).
 */
export async function retryStartupStep<T>(step: string, work: () => Promise<T>, options: StartupStepRetryOptions): Promise<T> {
  const deadlineMs = options.deadlineMs ?? DEFAULT_STARTUP_DEADLINE_MS;
  if (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs) || deadlineMs < 0) {
    throw new ConfigurationError(`The start-up deadline of "${step}" must be a finite number of milliseconds >= 0, not ${String(deadlineMs)}.`);
  }
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? timerSleep;
  const random = options.random ?? Math.random;
  const logger = options.logger ?? consoleLogger('ChronicleStartup');
  const startedAt = clock.now().getTime();
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await work();
      if (attempt > 1) logger.log(`Start-up step "${step}" succeeded on attempt ${attempt}.`);
      return result;
    } catch (error) {
      if (!options.isTransient(error) || options.signal?.aborted) throw error;
      const remaining = startedAt + deadlineMs - clock.now().getTime();
      if (remaining <= 0) {
        throw new StartupTimeoutError(
          step,
          attempt,
          deadlineMs,
          error,
          options.advice ?? 'Check that the service it needs is reachable, or raise the start-up deadline.',
        );
      }
      // "Equal jitter": at least half the exponential pause, so retries still back off.
      const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 30));
      const pause = Math.min(remaining, Math.round(ceiling / 2 + random() * (ceiling / 2)));
      logger.warn(`Start-up step "${step}" failed (${describe(error)}); attempt ${attempt + 1} in ${pause} ms.`);
      await sleep(pause, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's AggregateError for a host whose every address refused has an empty message and a code.
  const text = error.message || error.name;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !text.includes(code) ? `${text} [${code}]` : text;
}
