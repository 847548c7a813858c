import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { BackgroundJobs } from './background-jobs.js';

function recordingLogger(): ChronicleLogger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, log: () => undefined, warn: () => undefined, error: (message) => errors.push(message) };
}

/** A job whose runs wait on a gate the test opens; counts runs and overlap. */
function gatedJob() {
  const state = { runs: 0, inside: 0, maxInside: 0, signals: [] as AbortSignal[], open: () => undefined as void };
  let gate = new Promise<void>((resolve) => (state.open = resolve));
  const run = async (signal: AbortSignal): Promise<void> => {
    state.runs++;
    state.inside++;
    state.maxInside = Math.max(state.maxInside, state.inside);
    state.signals.push(signal);
    try {
      await gate;
    } finally {
      state.inside--;
    }
  };
  const reopen = () => (gate = new Promise<void>((resolve) => (state.open = resolve)));
  return { state, run, reopen };
}

describe('BackgroundJobs', () => {
  it('is single-flight per job: wake-ups during a run ask for exactly one more run, never a concurrent one', async () => {
    const jobs = new BackgroundJobs(recordingLogger());
    const job = gatedJob();
    jobs.add({ name: 'work', everyMs: 3_600_000, run: job.run });
    jobs.start();
    const first = jobs.wake('work');
    const second = jobs.wake('work');
    const third = jobs.wake('work');
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(job.state.runs).toBe(1);
    const opened = job.state.open;
    job.reopen();
    opened();
    await new Promise((resolve) => setImmediate(resolve));
    expect(job.state.runs).toBe(2); // the one extra run asked for by the wake-ups
    job.state.open();
    await first;
    expect(job.state.runs).toBe(2);
    expect(job.state.maxInside).toBe(1);
    await jobs.stop();
  });

  it('on stop: aborts the signal runs got, clears every timer, awaits the run in flight and its stop hook, then ignores wake-ups', async () => {
    const jobs = new BackgroundJobs(recordingLogger());
    const job = gatedJob();
    let hookCalled = false;
    jobs.add({ name: 'work', everyMs: 3_600_000, runAtStart: true, run: job.run, stop: async () => void (hookCalled = true) });
    jobs.add({ name: 'idle', everyMs: 3_600_000, run: async () => undefined });
    expect(jobs.timerCount).toBe(0);
    jobs.start();
    expect(jobs.timerCount).toBe(2);
    expect(job.state.runs).toBe(1);
    let stopped = false;
    const stopping = jobs.stop().then(() => (stopped = true));
    expect(job.state.signals[0]!.aborted).toBe(true);
    expect(jobs.timerCount).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false); // the run in flight holds the stop
    job.state.open();
    await stopping;
    expect(hookCalled).toBe(true);
    await jobs.wake('work');
    expect(job.state.runs).toBe(1);
  });

  it('logs a failed run by job name and keeps the job alive for the next wake-up', async () => {
    const logger = recordingLogger();
    const jobs = new BackgroundJobs(logger);
    let calls = 0;
    jobs.add({
      name: 'flaky',
      everyMs: 3_600_000,
      run: async () => {
        calls++;
        if (calls === 1) throw new Error('database away');
      },
    });
    jobs.start();
    await jobs.wake('flaky');
    await jobs.wake('flaky');
    expect(calls).toBe(2);
    expect(logger.errors).toEqual([expect.stringContaining('Background job "flaky" failed running: database away')]);
    await jobs.stop();
  });

  it('refuses a job added after start, a duplicate name and a period that cannot work', () => {
    const jobs = new BackgroundJobs(recordingLogger());
    jobs.add({ name: 'a', everyMs: 10, run: async () => undefined });
    expect(() => jobs.add({ name: 'a', everyMs: 10, run: async () => undefined })).toThrow(/added twice/);
    expect(() => jobs.add({ name: 'b', everyMs: 0, run: async () => undefined })).toThrow(/everyMs must be a positive integer/);
    jobs.start();
    expect(() => jobs.add({ name: 'c', everyMs: 10, run: async () => undefined })).toThrow(/after the jobs started/);
    return jobs.stop();
  });
});
