import { postgresCpuMs } from './db-cpu.js';
import { RssSampler } from './rss-sampler.js';
import { mb, summarize } from './stats.js';
import type { LoadResult } from './types.js';

export interface ClosedLoopOptions {
  label: string;
  /** Concurrent callers, each awaiting its previous operation before the next. */
  callers: number;
  /** Run but not measured (caches, JIT, connection pools). */
  warmupMs: number;
  /** Measured window. */
  durationMs: number;
  /** Most measured operations, so a very fast machine stays bounded in rows written. */
  maxOps?: number;
  /** One operation; `caller` is 0..callers-1, `iteration` counts that caller's operations. */
  op: (caller: number, iteration: number) => Promise<unknown>;
  /** Also measure the CPU time of the local PostgreSQL server over the window. */
  measureDbCpu?: boolean;
}

const MAX_ERROR_SAMPLES = 5;

/**
 * A closed-loop load: `callers` loops, each issuing one operation at a time, for the warm-up plus
 * the measured window. Latency is per operation (performance.now around the awaited call);
 * throughput counts successful operations started in the window over the time until the last of
 * them completed.
 */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  return (await closedLoopWithSamples(options)).result;
}

/** {@link closedLoop}, also handing back the raw latencies (to merge rounds). */
export async function closedLoopWithSamples(options: ClosedLoopOptions): Promise<{ result: LoadResult; latencies: number[] }> {
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const sampler = new RssSampler().start();
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const stopAt = measureFrom + options.durationMs;
  const maxOps = options.maxOps ?? Number.POSITIVE_INFINITY;
  let lastEnd = measureFrom;
  let peakReset = false;
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  let dbCpuAtStart: number | undefined;

  const caller = async (index: number): Promise<void> => {
    for (let iteration = 0; ; iteration++) {
      const begin = performance.now();
      if (begin >= stopAt || latencies.length >= maxOps) return;
      if (!peakReset && begin >= measureFrom) {
        peakReset = true;
        sampler.reset();
        cpuAtStart = process.cpuUsage();
        if (options.measureDbCpu) dbCpuAtStart = postgresCpuMs();
      }
      try {
        await options.op(index, iteration);
      } catch (error) {
        if (begin >= measureFrom) errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`);
        continue;
      }
      const end = performance.now();
      if (begin >= measureFrom) {
        latencies.push(end - begin);
        if (end > lastEnd) lastEnd = end;
      }
    }
  };
  await Promise.all(Array.from({ length: options.callers }, (_, index) => caller(index)));
  const peak = sampler.stop();
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuMs = cpuAtStart ? (cpu.user + cpu.system) / 1000 : 0;
  const dbCpuAtEnd = dbCpuAtStart === undefined ? undefined : postgresCpuMs();
  const dbCpuMs = dbCpuAtStart === undefined || dbCpuAtEnd === undefined ? undefined : dbCpuAtEnd - dbCpuAtStart;
  const stats = summarize(latencies);
  const durationMs = Math.max(1, lastEnd - measureFrom);
  const result: LoadResult = {
    label: options.label,
    callers: options.callers,
    ops: latencies.length,
    errors,
    errorSamples,
    durationMs,
    opsPerSec: (latencies.length / durationMs) * 1000,
    p50Ms: stats.p50,
    p99Ms: stats.p99,
    meanMs: stats.mean,
    maxMs: stats.max,
    peakRssMb: mb(peak),
    cpuPct: (cpuMs / durationMs) * 100,
    cpuUsPerOp: latencies.length > 0 ? (cpuMs * 1000) / latencies.length : 0,
    ...(dbCpuMs === undefined
      ? {}
      : { dbCpuPct: (dbCpuMs / durationMs) * 100, dbCpuUsPerOp: latencies.length > 0 ? (dbCpuMs * 1000) / latencies.length : 0 }),
  };
  return { result, latencies };
}

/**
 * One figure from several rounds of the same load: throughput is all operations over all measured
 * time, percentiles are over every sample, CPU figures are weighted by time, and each round's
 * throughput is kept so the spread shows.
 */
export function mergeRounds(rounds: ReadonlyArray<{ result: LoadResult; latencies: number[] }>): LoadResult {
  const first = rounds[0]!.result;
  if (rounds.length === 1) return first;
  const all: number[] = [];
  for (const round of rounds) for (const latency of round.latencies) all.push(latency);
  const results = rounds.map((r) => r.result);
  const ops = results.reduce((sum, r) => sum + r.ops, 0);
  const durationMs = results.reduce((sum, r) => sum + r.durationMs, 0);
  const stats = summarize(all);
  const weighted = (pick: (r: LoadResult) => number | undefined): number | undefined => {
    if (results.some((r) => pick(r) === undefined)) return undefined;
    return results.reduce((sum, r) => sum + pick(r)! * r.durationMs, 0) / durationMs;
  };
  const perOp = (pct: number | undefined): number | undefined => (pct === undefined || ops === 0 ? undefined : ((pct / 100) * durationMs * 1000) / ops);
  const cpuPct = weighted((r) => r.cpuPct) ?? 0;
  const dbCpuPct = weighted((r) => r.dbCpuPct);
  return {
    label: first.label,
    callers: first.callers,
    ops,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    errorSamples: results.flatMap((r) => r.errorSamples).slice(0, MAX_ERROR_SAMPLES),
    durationMs,
    opsPerSec: (ops / durationMs) * 1000,
    p50Ms: stats.p50,
    p99Ms: stats.p99,
    meanMs: stats.mean,
    maxMs: stats.max,
    peakRssMb: Math.max(...results.map((r) => r.peakRssMb)),
    cpuPct,
    cpuUsPerOp: perOp(cpuPct) ?? 0,
    ...(dbCpuPct === undefined ? {} : { dbCpuPct, dbCpuUsPerOp: perOp(dbCpuPct) ?? 0 }),
    roundOpsPerSec: results.map((r) => r.opsPerSec),
  };
}

export interface OpenLoopOptions {
  /** Operations per second to issue, whatever the latency (an open loop). */
  ratePerSec: number;
  durationMs: number;
  /** One operation; `index` counts from 0 in issue order. Its promise is awaited at the end. */
  op: (index: number) => Promise<unknown>;
}

export interface OpenLoopResult {
  issued: number;
  completed: number;
  errors: number;
  errorSamples: string[];
  /** Time from the first issue to the last issue. */
  issueWindowMs: number;
  achievedRatePerSec: number;
  /** How late operations were issued against their schedule. */
  lagP50Ms: number;
  lagP99Ms: number;
  /** Per-operation latency (issue to settle). */
  p50Ms: number;
  p99Ms: number;
}

/**
 * An open-loop load: operation i is issued at start + i / rate, regardless of how many are still
 * running (a closed loop would slow down with the system and hide queueing). The scheduler wakes
 * on 1 ms timers and issues everything due.
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const interval = 1000 / options.ratePerSec;
  const total = Math.max(1, Math.round((options.durationMs / 1000) * options.ratePerSec));
  const lags: number[] = [];
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  const running: Promise<void>[] = [];
  let errors = 0;
  let completed = 0;
  const start = performance.now();
  let lastIssue = start;
  for (let index = 0; index < total; ) {
    const now = performance.now();
    while (index < total && start + index * interval <= now) {
      const issuedAt = performance.now();
      lags.push(issuedAt - (start + index * interval));
      lastIssue = issuedAt;
      running.push(
        options.op(index).then(
          () => {
            completed++;
            latencies.push(performance.now() - issuedAt);
          },
          (error: unknown) => {
            errors++;
            if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`);
          },
        ),
      );
      index++;
    }
    if (index < total) {
      const wait = Math.max(0, start + index * interval - performance.now());
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  await Promise.all(running);
  const lag = summarize(lags);
  const latency = summarize(latencies);
  const issueWindowMs = Math.max(1, lastIssue - start);
  return {
    issued: total,
    completed,
    errors,
    errorSamples,
    issueWindowMs,
    achievedRatePerSec: ((total - 1) / issueWindowMs) * 1000,
    lagP50Ms: lag.p50,
    lagP99Ms: lag.p99,
    p50Ms: latency.p50,
    p99Ms: latency.p99,
  };
}

/** Runs `op` over `items` with at most `concurrency` at once; returns how many finished before `deadline` (epoch of performance.now). */
export async function forEachConcurrent<T>(
  items: readonly T[],
  concurrency: number,
  op: (item: T, index: number) => Promise<unknown>,
  deadline = Number.POSITIVE_INFINITY,
): Promise<number> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && performance.now() < deadline) {
      const index = next++;
      await op(items[index]!, index);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return done;
}

/** Waits until `check` holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
