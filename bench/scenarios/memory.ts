import { resolveCommandGatewayOptions } from '@chronicle/core/internal';
import { OpenLedger } from '../domain/bench-ledger.aggregate.js';
import { bootBenchApp, type BenchApp } from '../support/bench-app.js';
import { fullGc } from '../support/gc.js';
import { freshSchema } from '../support/postgres.js';
import { RssSampler } from '../support/rss-sampler.js';
import { mb, round } from '../support/stats.js';
import type { ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

interface TimelinePoint {
  touched: number;
  elapsedMs: number;
  rssMb: number;
  heapUsedMb: number;
  cachedAggregates: number;
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const { aggregates, callers, timeLimitMs, poolSize } = context.params.memory;
  // The cap the module runs with when the app passes no gateway options: the library's own default.
  const cap = resolveCommandGatewayOptions({}).cacheSize;
  const schema = await freshSchema(`${context.mode}_memory`);
  let app: BenchApp | undefined;
  try {
    app = await bootBenchApp({ storage: { kind: 'postgres', schema: schema.schema, poolSize } });
    const gcAvailable = fullGc();
    const start = process.memoryUsage();
    const sampler = new RssSampler(25).start();
    const timeline: TimelinePoint[] = [];
    const step = Math.max(1, Math.floor(aggregates / 20));
    const started = performance.now();
    const deadline = started + timeLimitMs;
    let next = 0;
    let touched = 0;
    let errors = 0;
    let firstError: string | undefined;
    const point = () => {
      const usage = process.memoryUsage();
      timeline.push({
        touched,
        elapsedMs: Math.round(performance.now() - started),
        rssMb: mb(usage.rss),
        heapUsedMb: mb(usage.heapUsed),
        cachedAggregates: app!.gateway.cachedAggregates,
      });
    };
    point();
    const app_ = app;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (next < aggregates && performance.now() < deadline) {
          const index = next++;
          try {
            await app_.commandBus.execute(new OpenLedger(`mem-${index}`, 'bench'));
            touched++;
          } catch (error) {
            errors++;
            firstError ??= `${(error as Error).name}: ${(error as Error).message}`;
          }
          if (touched % step === 0) point();
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    point();
    const peak = sampler.stop();
    const cachedAtEnd = app.gateway.cachedAggregates;
    fullGc();
    const end = process.memoryUsage();
    const half = timeline.find((p) => p.touched >= touched / 2) ?? timeline[0]!;
    const last = timeline[timeline.length - 1]!;
    const limited = touched < aggregates;
    context.log(
      `touched ${touched} aggregates in ${Math.round(elapsedMs)} ms (${Math.round((touched / elapsedMs) * 1000)}/s); RSS start ${mb(start.rss)} MiB, ` +
        `peak ${mb(peak)} MiB, end ${mb(end.rss)} MiB after GC; cached ${cachedAtEnd} (cap ${cap})`,
    );
    const targets: TargetCheck[] = [
      {
        scenario: 'memory',
        name: `Cached aggregates after touching ${touched.toLocaleString('en-US')} aggregates`,
        target: `bounded by gateway.cacheSize (default ${cap.toLocaleString('en-US')})`,
        measured: `${cachedAtEnd.toLocaleString('en-US')} cached`,
        status: cachedAtEnd <= cap && touched > cap ? 'PASS' : 'MISS',
      },
      {
        scenario: 'memory',
        name: `Peak RSS while touching ${touched.toLocaleString('en-US')} aggregates`,
        target: 'bounded (no threshold stated): RSS growth over the second half of the run shown',
        measured: `peak ${mb(peak)} MiB (start ${mb(start.rss)} MiB; ${half.rssMb} → ${last.rssMb} MiB from ${half.touched.toLocaleString('en-US')} to ${last.touched.toLocaleString('en-US')} touched)`,
        status: 'INFO',
      },
    ];
    return {
      settings: {
        storage: 'postgres',
        aggregatesRequested: aggregates,
        aggregatesTouched: touched,
        timeLimitMs,
        callers,
        poolSize,
        cacheCap: cap,
        gatewayOptions: 'library defaults (no gateway options passed to EventSourcingModule)',
        touch: 'one OpenLedger command per aggregate through the CommandBus (creates the stream and caches the hydrated aggregate)',
        gcBetweenPhases: gcAvailable,
        ...(context.mode === 'quick' ? { quickMode: `quick mode touches ${aggregates.toLocaleString('en-US')} aggregates, not 200,000` } : {}),
      },
      metrics: {
        touched,
        errors,
        firstError,
        elapsedMs,
        startRssMb: mb(start.rss),
        startHeapUsedMb: mb(start.heapUsed),
        peakRssMb: mb(peak),
        endRssMbAfterGc: mb(end.rss),
        endHeapUsedMbAfterGc: mb(end.heapUsed),
        cachedAggregatesAtEnd: cachedAtEnd,
        timeline,
      },
      tables: [
        {
          title: `Memory while touching ${touched.toLocaleString('en-US')} aggregates (cache cap ${cap.toLocaleString('en-US')})`,
          columns: ['touched', 'requested', 'seconds', 'touch/s', 'RSS start MiB', 'peak RSS MiB', 'RSS end MiB (after GC)', 'heap end MiB (after GC)', 'cached at end', 'errors'],
          rows: [
            [
              touched,
              aggregates,
              round(elapsedMs / 1000),
              Math.round((touched / elapsedMs) * 1000),
              mb(start.rss),
              mb(peak),
              mb(end.rss),
              mb(end.heapUsed),
              cachedAtEnd,
              errors,
            ],
          ],
          ...(limited ? { caption: `Stopped by the ${timeLimitMs / 1000} s time limit before touching all ${aggregates.toLocaleString('en-US')} aggregates.` } : {}),
        },
      ],
      charts: [
        {
          title: 'RSS (MiB) by aggregates touched',
          kind: 'line',
          xLabels: timeline.map((p) => (p.touched >= 1000 ? `${Math.round(p.touched / 1000)}k` : String(p.touched))),
          yLabel: 'RSS MiB',
          values: timeline.map((p) => p.rssMb),
        },
      ],
      targets,
      notes: errors > 0 ? [`${errors} commands failed, e.g. ${firstError}`] : [],
    };
  } finally {
    await app?.close().catch(() => undefined);
    await schema.drop().catch(() => undefined);
  }
}

export const memory: Scenario = {
  id: 'memory',
  title: '5. Memory: touching many aggregates with the default cache cap',
  needs: ['postgres'],
  timeoutMs: { full: 420_000, quick: 60_000 },
  run,
};
