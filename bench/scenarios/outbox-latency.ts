import { OpenLedger, Post } from '../domain/bench-ledger.aggregate.js';
import { bootBenchApp, type BenchApp } from '../support/bench-app.js';
import { BenchPublisher, setPublishHook } from '../support/bench-publisher.js';
import { forEachConcurrent, openLoop, waitFor, type OpenLoopResult } from '../support/load.js';
import { freshSchema } from '../support/postgres.js';
import { round, summarize } from '../support/stats.js';
import type { CommandResult } from '@chronicle/core';
import type { ResultChart, ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

type WakeMode = 'notify' | 'polling';

interface ModeResult {
  mode: WakeMode;
  load: OpenLoopResult;
  measured: number;
  delivered: number;
  /** Published before the command's promise resolved (counted as 0 ms). */
  deliveredBeforeResolve: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  batches: number;
  pollIntervalMs: number;
}

const DEFAULT_POLL_MS = 1_000;

async function measure(context: ScenarioContext, mode: WakeMode): Promise<ModeResult> {
  const { ratePerSec, durationMs, warmupMs, aggregates, poolSize } = context.params.outboxLatency;
  const schema = await freshSchema(`${context.mode}_oblat_${mode}`);
  const published = new Map<string, number>();
  const resolved = new Map<string, number>();
  const measuredKeys: string[] = [];
  let batches = 0;
  setPublishHook((batch, calledAt) => {
    batches++;
    for (const message of batch) {
      const key = `${message.streamId}@${message.version}`;
      if (!published.has(key)) published.set(key, calledAt);
    }
  });
  let app: BenchApp | undefined;
  try {
    // pollIntervalMs is left at its default (1,000 ms) in both modes; only `listen` differs.
    app = await bootBenchApp({
      storage: { kind: 'postgres', schema: schema.schema, poolSize },
      handlers: [BenchPublisher],
      outbox: { relay: true, listen: mode === 'notify' },
    });
    const ids = Array.from({ length: aggregates }, (_, i) => `lat-${i}`);
    await forEachConcurrent(ids, 32, (id) => app!.commandBus.execute(new OpenLedger(id, 'bench')));
    if (!(await waitFor(() => published.size >= aggregates, 15_000))) {
      throw new Error(`only ${published.size} of ${aggregates} creation events reached the handler within 15 s`);
    }
    const warmupCount = Math.round((warmupMs / 1000) * ratePerSec);
    const app_ = app;
    const load = await openLoop({
      ratePerSec,
      durationMs: warmupMs + durationMs,
      op: async (index) => {
        const result = (await app_.commandBus.execute(new Post(ids[index % ids.length]!, 1))) as CommandResult;
        const key = `${result.streamId}@${result.version}`;
        resolved.set(key, performance.now());
        if (index >= warmupCount) measuredKeys.push(key);
      },
    });
    await waitFor(() => measuredKeys.every((key) => published.has(key)), 5_000 + 2 * DEFAULT_POLL_MS, 25);
    const latencies: number[] = [];
    let early = 0;
    for (const key of measuredKeys) {
      const at = published.get(key);
      if (at === undefined) continue;
      const delta = at - resolved.get(key)!;
      if (delta < 0) early++;
      latencies.push(Math.max(0, delta));
    }
    const stats = summarize(latencies);
    context.log(
      `${mode}: ${Math.round(load.achievedRatePerSec)} cmd/s issued, delivered ${latencies.length}/${measuredKeys.length}, ` +
        `commit→handler p50 ${round(stats.p50)} ms p99 ${round(stats.p99)} ms (command p99 ${round(load.p99Ms)} ms, ${batches} batches)`,
    );
    return {
      mode,
      load,
      measured: measuredKeys.length,
      delivered: latencies.length,
      deliveredBeforeResolve: early,
      p50Ms: stats.p50,
      p99Ms: stats.p99,
      meanMs: stats.mean,
      maxMs: stats.max,
      batches,
      pollIntervalMs: DEFAULT_POLL_MS,
    };
  } finally {
    setPublishHook(undefined);
    await app?.close().catch(() => undefined);
    await schema.drop().catch(() => undefined);
  }
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const params = context.params.outboxLatency;
  const results: ModeResult[] = [];
  for (const mode of ['notify', 'polling'] as const) results.push(await measure(context, mode));
  const notify = results.find((r) => r.mode === 'notify')!;
  const targets: TargetCheck[] = [
    {
      scenario: 'outbox-latency',
      name: `Outbox commit→handler p99 at ${params.ratePerSec} cmd/s with NOTIFY wake-up`,
      target: 'p99 < 50 ms',
      measured: `p99 ${round(notify.p99Ms)} ms (p50 ${round(notify.p50Ms)} ms), ${notify.delivered}/${notify.measured} delivered`,
      status: notify.p99Ms < 50 && notify.delivered === notify.measured && notify.measured > 0 ? 'PASS' : 'MISS',
    },
  ];
  const chart: ResultChart = {
    title: 'Outbox commit→handler latency (ms)',
    kind: 'bar',
    xLabels: results.flatMap((r) => [`${r.mode} p50`, `${r.mode} p99`]),
    yLabel: 'ms',
    values: results.flatMap((r) => [round(r.p50Ms), round(r.p99Ms)]),
  };
  return {
    settings: {
      storage: 'postgres',
      ratePerSec: params.ratePerSec,
      measuredMs: params.durationMs,
      warmupMs: params.warmupMs,
      aggregates: params.aggregates,
      poolSize: params.poolSize,
      load: 'open loop: command i issued at start + i/rate (1 ms timer), round-robin over the aggregates, whatever the latency',
      latency: 'from the CommandBus promise resolving (the commit is acknowledged) to the start of the handler\'s publish call for that event (first delivery)',
      modes: `notify: outbox.listen = true (LISTEN on a dedicated connection) plus polling; polling: listen = false. pollIntervalMs = ${DEFAULT_POLL_MS} (default) in both; batchSize 100 (default)`,
    },
    metrics: { results },
    tables: [
      {
        title: `Outbox latency at a steady ${params.ratePerSec} commands/s (PostgreSQL, one relay)`,
        columns: ['wake-up', 'cmd/s issued', 'schedule lag p99 ms', 'command p50 ms', 'command p99 ms', 'delivered', 'commit→handler p50 ms', 'p99 ms', 'max ms', 'batches'],
        rows: results.map((r) => [
          r.mode === 'notify' ? 'NOTIFY + polling' : `polling only (${r.pollIntervalMs} ms)`,
          Math.round(r.load.achievedRatePerSec),
          round(r.load.lagP99Ms),
          round(r.load.p50Ms),
          round(r.load.p99Ms),
          `${r.delivered}/${r.measured}`,
          round(r.p50Ms),
          round(r.p99Ms),
          round(r.maxMs),
          r.batches,
        ]),
        caption: 'Delivered before the command promise resolved counts as 0 ms: ' + results.map((r) => `${r.mode} ${r.deliveredBeforeResolve}`).join(', ') + '.',
      },
    ],
    charts: [chart],
    targets,
    notes: results.flatMap((r) => (r.load.errors > 0 ? [`${r.mode}: ${r.load.errors} commands failed, e.g. ${r.load.errorSamples[0]}`] : [])),
  };
}

export const outboxLatency: Scenario = {
  id: 'outbox-latency',
  title: '4a. Outbox: commit-to-handler latency at a steady 500 commands/s (NOTIFY vs polling)',
  needs: ['postgres'],
  timeoutMs: { full: 180_000, quick: 50_000 },
  run,
};
