import { OpenLedger } from '../domain/bench-ledger.aggregate.js';
import { bootBenchApp, type BenchApp } from '../support/bench-app.js';
import { BenchPublisher, setPublishHook } from '../support/bench-publisher.js';
import { forEachConcurrent, waitFor } from '../support/load.js';
import { freshSchema } from '../support/postgres.js';
import { appendPosted } from '../support/prefill.js';
import { formatRatio, round } from '../support/stats.js';
import type { CommandResult } from '@chronicle/core';
import type { ResultChart, ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

interface RelayResult {
  relays: number;
  entries: number;
  delivered: number;
  /** From opening the gate to the publish call that completed the set. */
  elapsedMs: number;
  entriesPerSec: number;
  batches: number;
  /** Unique entries first published by each relay instance. */
  perRelay: number[];
  /** Whether OutboxStore.stats showed nothing pending afterwards. */
  drainedConfirmed: boolean;
  prefillMs: number;
  complete: boolean;
  /** Entries/s over the first and the last quarter of the backlog (a claim that slows as the drain goes on shows here). */
  firstQuarterPerSec: number;
  lastQuarterPerSec: number;
}

const HANDLER = 'bench-noop';

async function measure(context: ScenarioContext, relays: number): Promise<RelayResult> {
  const { entries, aggregates, timeoutMs, poolSize } = context.params.relayThroughput;
  const perAggregate = Math.max(1, Math.round(entries / aggregates));
  const total = perAggregate * aggregates;
  const schema = await freshSchema(`${context.mode}_relay_${relays}`);
  const storage = { kind: 'postgres' as const, schema: schema.schema, poolSize };
  const apps: BenchApp[] = [];
  setPublishHook(undefined);
  try {
    // The writer registers the handler and writes the backlog (relay off): OpenLedger through the
    // CommandBus, then the rest through the Journal port in units of 1,000 events, so the outbox
    // store writes the entries in the events' transactions, as it does for commands.
    const prefillStarted = performance.now();
    const writer = await bootBenchApp({ storage, handlers: [BenchPublisher], outbox: { relay: false } });
    apps.push(writer);
    const ids = Array.from({ length: aggregates }, (_, i) => `rel-${String(i).padStart(5, '0')}`);
    const streams: Array<{ streamId: string; aggregateId: string; version: number }> = [];
    await forEachConcurrent(ids, 32, async (id) => {
      const result = (await writer.commandBus.execute(new OpenLedger(id, 'bench'))) as CommandResult;
      streams.push({ streamId: result.streamId, aggregateId: id, version: result.version });
    });
    await appendPosted(writer.journal, writer.gateway.eventSerializer, streams, perAggregate - 1);
    const [stats] = await writer.outbox.stats(HANDLER);
    if (stats?.pending !== total) throw new Error(`the backlog holds ${String(stats?.pending)} entries, expected ${total}`);
    const prefillMs = performance.now() - prefillStarted;
    context.log(`${relays} relay(s): backlog of ${total} entries over ${aggregates} aggregates written in ${Math.round(prefillMs)} ms`);
    await writer.close();
    apps.splice(apps.indexOf(writer), 1);

    // Every relay instance is started before the clock starts: their first batches wait on a gate.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const seen = new Set<string>();
    const owners = new Map<BenchPublisher, number>();
    let blocked = 0;
    let batches = 0;
    let doneAt: number | undefined;
    /** When the delivered count crossed 25 %, 75 % of the backlog. */
    const marks: { q1?: number; q3?: number } = {};
    setPublishHook(async (batch, _calledAt, publisher) => {
      blocked++;
      await gate;
      batches++;
      let fresh = 0;
      for (const message of batch) {
        if (!seen.has(message.id)) {
          seen.add(message.id);
          fresh++;
        }
      }
      owners.set(publisher, (owners.get(publisher) ?? 0) + fresh);
      const now = performance.now();
      if (marks.q1 === undefined && seen.size >= total / 4) marks.q1 = now;
      if (marks.q3 === undefined && seen.size >= (total * 3) / 4) marks.q3 = now;
      if (doneAt === undefined && seen.size >= total) doneAt = now;
    });
    for (let i = 0; i < relays; i++) {
      apps.push(await bootBenchApp({ storage, handlers: [BenchPublisher], outbox: { relay: true } }));
    }
    await waitFor(() => blocked >= relays, 5_000);
    const started = performance.now();
    openGate();
    const complete = await waitFor(() => doneAt !== undefined, timeoutMs, 5);
    const elapsedMs = (doneAt ?? performance.now()) - started;
    const drainedConfirmed = await waitFor(async () => (await apps[0]!.outbox.stats(HANDLER))[0]?.pending === 0, 10_000, 100);
    const result: RelayResult = {
      relays,
      entries: total,
      delivered: seen.size,
      elapsedMs,
      entriesPerSec: (seen.size / elapsedMs) * 1000,
      batches,
      perRelay: [...owners.values()],
      drainedConfirmed,
      prefillMs,
      complete,
      firstQuarterPerSec: marks.q1 === undefined ? 0 : (total / 4 / Math.max(1, marks.q1 - started)) * 1000,
      lastQuarterPerSec: marks.q3 === undefined || doneAt === undefined ? 0 : (total / 4 / Math.max(1, doneAt - marks.q3)) * 1000,
    };
    context.log(
      `${relays} relay(s): ${seen.size}/${total} entries in ${Math.round(elapsedMs)} ms = ${Math.round(result.entriesPerSec)} entries/s ` +
        `(${batches} batches, per relay ${result.perRelay.join('/')}, first/last quarter ${Math.round(result.firstQuarterPerSec)}/${Math.round(result.lastQuarterPerSec)} per s, drained: ${drainedConfirmed})`,
    );
    return result;
  } finally {
    setPublishHook(undefined);
    for (const app of apps) await app.close().catch(() => undefined);
    await schema.drop().catch(() => undefined);
  }
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const params = context.params.relayThroughput;
  const results: RelayResult[] = [];
  for (const relays of params.relays) results.push(await measure(context, relays));
  const targets: TargetCheck[] = results.map((r) => ({
    scenario: 'relay-throughput',
    name: `Relay throughput to a no-op publisher, ${r.relays} relay instance${r.relays > 1 ? 's' : ''}`,
    target: '≥ 5,000 entries/s',
    measured: `${Math.round(r.entriesPerSec)} entries/s (${r.delivered}/${r.entries} in ${round(r.elapsedMs / 1000)} s)`,
    status: r.complete && r.entriesPerSec >= 5_000 ? 'PASS' : 'MISS',
  }));
  const chart: ResultChart = {
    title: 'Outbox relay throughput (entries/s)',
    kind: 'bar',
    xLabels: results.map((r) => `${r.relays} relay${r.relays > 1 ? 's' : ''}`),
    yLabel: 'entries/s',
    values: results.map((r) => Math.round(r.entriesPerSec)),
  };
  return {
    settings: {
      storage: 'postgres',
      entries: params.entries,
      aggregates: params.aggregates,
      poolSize: params.poolSize,
      handler: 'one @OutboxHandler, events "*", batchSize 100 (default), publish is a no-op',
      relayOptions: 'outbox defaults: relay on, listen on, pollIntervalMs 1,000, leaseMs 30,000',
      clock: 'starts when every relay instance is up (their first batches wait on a gate) and stops at the publish call that completes the set; the backlog is then confirmed empty through OutboxStore.stats',
      instances: 'several relays = several Nest application contexts in this process, each with its own pool and LISTEN connection, on one schema',
    },
    metrics: { results },
    tables: [
      {
        title: 'Outbox relay draining a pre-filled backlog (PostgreSQL)',
        columns: ['relays', 'entries', 'delivered', 'seconds', 'entries/s', 'first quarter entries/s', 'last quarter entries/s', 'batches', 'per relay', 'backlog empty after'],
        rows: results.map((r) => [
          r.relays,
          r.entries,
          r.delivered,
          round(r.elapsedMs / 1000),
          Math.round(r.entriesPerSec),
          Math.round(r.firstQuarterPerSec),
          Math.round(r.lastQuarterPerSec),
          r.batches,
          r.perRelay.join(' / '),
          r.drainedConfirmed ? 'yes' : 'no',
        ]),
      },
    ],
    charts: [chart],
    targets,
    notes: [
      ...results.filter((r) => !r.complete).map((r) => `${r.relays} relay(s): not drained within ${params.timeoutMs / 1000} s; the rate shown is over the time limit.`),
      ...results
        .filter((r) => r.complete && r.firstQuarterPerSec > 0 && r.lastQuarterPerSec > 1.5 * r.firstQuarterPerSec)
        .map(
          (r) =>
            `${r.relays} relay(s): the last quarter of the backlog drained ${formatRatio(r.lastQuarterPerSec / r.firstQuarterPerSec)} as fast as the first ` +
            `(${Math.round(r.lastQuarterPerSec)} vs ${Math.round(r.firstQuarterPerSec)} entries/s): a batch costs more while the pending backlog is larger.`,
        ),
    ],
  };
}

export const relayThroughput: Scenario = {
  id: 'relay-throughput',
  title: '4b. Outbox relay throughput: draining a pre-filled backlog with 1 and 3 relays',
  needs: ['postgres'],
  timeoutMs: { full: 360_000, quick: 80_000 },
  run,
};
