import { ConfigurationError } from '../errors/configuration.error.js';
import { StartupTimeoutError } from '../errors/startup-timeout.error.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { retryStartupStep, type StartupStepRetryOptions } from './startup-step-retry.js';

class Transient extends Error {}

/** A manual clock whose `sleep` moves time on, and a logger that keeps what it was told. */
function harness(overrides: Partial<StartupStepRetryOptions> = {}) {
  let now = 1_000_000;
  const pauses: number[] = [];
  const warnings: string[] = [];
  const infos: string[] = [];
  const logger: ChronicleLogger = { log: (m) => infos.push(m), warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
  const options: StartupStepRetryOptions = {
    isTransient: (error) => error instanceof Transient,
    clock: { now: () => new Date(now) },
    sleep: async (ms) => {
      pauses.push(ms);
      now += ms;
    },
    random: () => 0.5,
    logger,
    ...overrides,
  };
  return { options, pauses, warnings, infos, advance: (ms: number) => (now += ms) };
}

describe('retryStartupStep', () => {
  it('retries transient failures with growing pauses until the step succeeds, logging each retry once', async () => {
    const { options, pauses, warnings, infos } = harness({ initialDelayMs: 100, maxDelayMs: 1_000 });
    let calls = 0;
    const result = await retryStartupStep(
      'migrations',
      async () => {
        calls += 1;
        if (calls <= 5) throw new Transient(`refused #${calls}`);
        return 'done';
      },
      options,
    );
    expect(result).toBe('done');
    expect(calls).toBe(6);
    // Equal jitter at random = 0.5: three quarters of 100, 200, 400, 800, then the 1 000 ms cap.
    expect(pauses).toEqual([75, 150, 300, 600, 750]);
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toBe('Start-up step "migrations" failed (refused #1); attempt 2 in 75 ms.');
    expect(infos).toEqual(['Start-up step "migrations" succeeded on attempt 6.']);
  });

  it('names an error without a message by its class and code (every address of a host refused)', async () => {
    const { options, warnings } = harness({ isTransient: () => true });
    const refused = Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' });
    let calls = 0;
    await retryStartupStep('connect', async () => {
      if (++calls === 1) throw refused;
    }, options);
    expect(warnings).toEqual([expect.stringContaining('failed (AggregateError [ECONNREFUSED]); attempt 2 in')]);
  });

  it('keeps every pause within half and all of the exponential step, whatever the jitter', async () => {
    for (const jitter of [0, 0.999]) {
      const { options, pauses } = harness({ initialDelayMs: 100, maxDelayMs: 400, random: () => jitter });
      let calls = 0;
      await retryStartupStep('s', async () => {
        if (++calls <= 4) throw new Transient('x');
      }, options);
      const ceilings = [100, 200, 400, 400];
      pauses.forEach((pause, i) => {
        expect(pause).toBeGreaterThanOrEqual(ceilings[i]! / 2);
        expect(pause).toBeLessThanOrEqual(ceilings[i]!);
      });
    }
  });

  it('fails with StartupTimeoutError naming the step, the attempts and the last error once the deadline has passed', async () => {
    const { options, pauses } = harness({ deadlineMs: 2_000, initialDelayMs: 100, maxDelayMs: 1_000, advice: 'Check the database.' });
    let calls = 0;
    const failure = retryStartupStep('Chronicle migrations', async () => {
      calls += 1;
      throw new Transient(`connect ECONNREFUSED #${calls}`);
    }, options);
    const error = await failure.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StartupTimeoutError);
    const timeout = error as StartupTimeoutError;
    expect(timeout.step).toBe('Chronicle migrations');
    expect(timeout.attempts).toBe(calls);
    expect((timeout.cause as Error).message).toBe(`connect ECONNREFUSED #${calls}`);
    expect(timeout.message).toContain('"Chronicle migrations" did not succeed within 2000 ms');
    expect(timeout.message).toContain(`last error: connect ECONNREFUSED #${calls}`);
    expect(timeout.message).toContain('Check the database.');
    // The last pause is cut to what was left, so the final attempt happens at the deadline, not after it.
    expect(pauses.reduce((a, b) => a + b, 0)).toBe(2_000);
  });

  it('counts time spent inside failing attempts against the deadline', async () => {
    const { options, advance } = harness({ deadlineMs: 1_000 });
    let calls = 0;
    await expect(
      retryStartupStep('slow connect', async () => {
        calls += 1;
        advance(600);
        throw new Transient('timeout');
      }, options),
    ).rejects.toBeInstanceOf(StartupTimeoutError);
    expect(calls).toBe(2);
  });

  it('rethrows a non-transient error at once, without a retry or a pause', async () => {
    const { options, pauses, warnings } = harness();
    const credentials = Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' });
    let calls = 0;
    await expect(
      retryStartupStep('migrations', async () => {
        calls += 1;
        throw credentials;
      }, options),
    ).rejects.toBe(credentials);
    expect(calls).toBe(1);
    expect(pauses).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('stops retrying when its signal aborts (shutdown) and rethrows the last error', async () => {
    const controller = new AbortController();
    const { options } = harness({ signal: controller.signal, sleep: async () => controller.abort() });
    let calls = 0;
    const last = new Transient('still down');
    await expect(
      retryStartupStep('outbox backfill', async () => {
        calls += 1;
        throw last;
      }, options),
    ).rejects.toBe(last);
    expect(calls).toBe(1);
  });

  it('refuses a deadline that is not a finite number of milliseconds before running the step', async () => {
    for (const deadlineMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '60000' as unknown as number]) {
      let calls = 0;
      await expect(retryStartupStep('s', async () => void (calls += 1), harness({ deadlineMs }).options)).rejects.toBeInstanceOf(ConfigurationError);
      expect(calls).toBe(0);
    }
  });
});
