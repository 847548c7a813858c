import type { BenchMode } from './types.js';

/**
 * Every count and duration of a run, by mode. Quick mode keeps the same shapes with smaller
 * numbers, so it finishes in under two minutes on a 2-core machine; the full run stays under 15.
 */
export interface BenchParams {
  throughput: {
    /** Aggregates created before measuring; callers spread over them. */
    aggregates: number;
    callers: number[];
    /** Passes over every (callers, variant) pair, interleaved, merged into one figure each. */
    rounds: number;
    warmupMs: number;
    durationMs: number;
    /** Connections of the app's TypeORM pool and of the baseline's pg.Pool. */
    poolSize: number;
  };
  sqliteThroughput: { aggregates: number; callers: number[]; rounds: number; warmupMs: number; durationMs: number };
  /** The telemetry scenario: 64 callers, rounds of off / API / SDK back to back (see telemetry-overhead.ts). */
  telemetryOverhead: { aggregates: number; rounds: number; warmupMs: number; durationMs: number };
  recovery: { events: number; snapshotReads: number; replayReads: number };
  outboxLatency: { ratePerSec: number; durationMs: number; warmupMs: number; aggregates: number; poolSize: number };
  relayThroughput: { entries: number; aggregates: number; relays: number[]; timeoutMs: number; poolSize: number };
  memory: { aggregates: number; callers: number; timeLimitMs: number; poolSize: number };
  feedCatchUp: {
    /** Events prefilled into the journal (PostgreSQL, and the SQLite file), before anything is measured. */
    events: number;
    /**
     * The projection variants run first, when the journal holds this many of the events (the rest
     * are appended after them): one statement per event makes them the slow part of the scenario.
     */
    projectionEvents: number;
    /** Streams the events are spread over, evenly. */
    streams: number;
    /** Events per journal append of the prefill. */
    prefillUnit: number;
    /** Passes over the no-op variants (baseline, batch 500, batch 5,000), interleaved, merged into one figure each. */
    rounds: number;
    /** Connections of the Chronicle DataSource (the baselines use one connection). */
    poolSize: number;
  };
  transfers: {
    /** Accounts opened (and funded) before measuring; callers spread over them. */
    accounts: number;
    /** Cents each account starts with (large enough that no transfer is refused). */
    initialBalance: number;
    callers: number[];
    warmupMs: number;
    durationMs: number;
    /** An operation still not terminal after this long counts as an error. */
    opTimeoutMs: number;
    /** Connections of the baseline's pg.Pool (the demo's TypeORM pool has 10). */
    poolSize: number;
  };
}

export const PARAMS: Record<BenchMode, BenchParams> = {
  full: {
    throughput: { aggregates: 1_000, callers: [1, 16, 64], rounds: 3, warmupMs: 1_000, durationMs: 4_000, poolSize: 10 },
    sqliteThroughput: { aggregates: 1_000, callers: [1, 16, 64], rounds: 3, warmupMs: 500, durationMs: 2_500 },
    telemetryOverhead: { aggregates: 1_000, rounds: 7, warmupMs: 300, durationMs: 1_500 },
    recovery: { events: 10_000, snapshotReads: 30, replayReads: 10 },
    outboxLatency: { ratePerSec: 500, durationMs: 20_000, warmupMs: 2_000, aggregates: 1_000, poolSize: 10 },
    relayThroughput: { entries: 50_000, aggregates: 1_000, relays: [1, 3], timeoutMs: 120_000, poolSize: 10 },
    memory: { aggregates: 200_000, callers: 64, timeLimitMs: 300_000, poolSize: 10 },
    feedCatchUp: { events: 200_000, projectionEvents: 50_000, streams: 1_000, prefillUnit: 5_000, rounds: 3, poolSize: 10 },
    transfers: { accounts: 200, initialBalance: 1_000_000_000, callers: [1, 16], warmupMs: 1_000, durationMs: 8_000, opTimeoutMs: 30_000, poolSize: 10 },
  },
  quick: {
    throughput: { aggregates: 1_000, callers: [1, 16, 64], rounds: 1, warmupMs: 400, durationMs: 1_500, poolSize: 10 },
    sqliteThroughput: { aggregates: 1_000, callers: [1, 16, 64], rounds: 1, warmupMs: 300, durationMs: 1_000 },
    telemetryOverhead: { aggregates: 1_000, rounds: 1, warmupMs: 300, durationMs: 1_000 },
    recovery: { events: 10_000, snapshotReads: 10, replayReads: 3 },
    outboxLatency: { ratePerSec: 500, durationMs: 5_000, warmupMs: 1_000, aggregates: 1_000, poolSize: 10 },
    relayThroughput: { entries: 10_000, aggregates: 1_000, relays: [1, 3], timeoutMs: 30_000, poolSize: 10 },
    memory: { aggregates: 50_000, callers: 64, timeLimitMs: 25_000, poolSize: 10 },
    feedCatchUp: { events: 50_000, projectionEvents: 5_000, streams: 500, prefillUnit: 5_000, rounds: 1, poolSize: 10 },
    transfers: { accounts: 200, initialBalance: 1_000_000_000, callers: [1, 16], warmupMs: 300, durationMs: 1_500, opTimeoutMs: 30_000, poolSize: 10 },
  },
};
