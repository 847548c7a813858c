import { BENCH_SNAPSHOT_EVERY, BenchLedger, OpenLedger, Post } from '../domain/bench-ledger.aggregate.js';
import { bootBenchApp, type BenchApp } from '../support/bench-app.js';
import { waitFor } from '../support/load.js';
import { freshSchema } from '../support/postgres.js';
import { appendPosted } from '../support/prefill.js';
import { formatRatio, ratio, round, summarize } from '../support/stats.js';
import type { CommandResult } from '@chronicle/core';
import type { Scenario, ScenarioContext } from './scenario.js';
import type { ScenarioOutput } from '../support/types.js';

async function timeReads(app: BenchApp, aggregateId: string, times: number, expectVersion: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    app.gateway.evict(BenchLedger, aggregateId);
    const started = performance.now();
    const view = await app.gateway.read(BenchLedger, aggregateId);
    samples.push(performance.now() - started);
    if (view?.version !== expectVersion) throw new Error(`read returned version ${String(view?.version)}, expected ${expectVersion}`);
  }
  return samples;
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const { events, snapshotReads, replayReads } = context.params.recovery;
  const schema = await freshSchema(`${context.mode}_recovery`);
  let app: BenchApp | undefined;
  try {
    app = await bootBenchApp({ storage: { kind: 'postgres', schema: schema.schema, poolSize: 10 } });
    const aggregateId = 'big-ledger';
    const opened = (await app.commandBus.execute(new OpenLedger(aggregateId, 'bench'))) as CommandResult;
    const streamId = opened.streamId;

    // History: events 2..n-1 appended in units of 1,000 through the journal port; the last one
    // goes through the gateway, whose commit at version n (a multiple of 100) takes the snapshot.
    const prefillStarted = performance.now();
    await appendPosted(app.journal, app.gateway.eventSerializer, [{ streamId, aggregateId, version: 1 }], events - 2);
    app.gateway.evict(BenchLedger, aggregateId);
    const last = (await app.commandBus.execute(new Post(aggregateId, 1))) as CommandResult;
    if (last.version !== events) throw new Error(`the history ended at version ${last.version}, expected ${events}`);
    const snapshotted = await waitFor(async () => (await app!.snapshots.load(streamId))?.version === events, 15_000, 50);
    if (!snapshotted) throw new Error(`no snapshot at version ${events} appeared within 15 s`);
    context.log(`history of ${events} events written in ${Math.round(performance.now() - prefillStarted)} ms, snapshot at v${events}`);

    const withSnapshot = await timeReads(app, aggregateId, snapshotReads, events);
    await app.snapshots.delete(streamId);
    if (await app.snapshots.load(streamId)) throw new Error('the snapshot is still there after delete');
    const fullReplay = await timeReads(app, aggregateId, replayReads, events);
    const view = await app.gateway.read(BenchLedger, aggregateId);
    if (view?.state.total !== events - 1) throw new Error(`the replayed total is ${String(view?.state.total)}, expected ${events - 1}`);

    const snap = summarize(withSnapshot);
    const full = summarize(fullReplay);
    const speedup = ratio(full.p50, snap.p50);
    context.log(`snapshot p50 ${round(snap.p50)} ms, full replay p50 ${round(full.p50)} ms: ${formatRatio(speedup)}`);
    return {
      settings: {
        storage: 'postgres',
        events,
        snapshotEvery: BENCH_SNAPSHOT_EVERY,
        method:
          'CommandGateway.evict then CommandGateway.read (a cold load: streamInfo, newest snapshot, events after it in pages of gateway.replayPageSize, default 1,000). ' +
          'With snapshots: the newest snapshot is at the last version, so nothing is replayed after it. Full replay: the same reads after SnapshotStore.delete.',
        history: `version 1 by OpenLedger, versions 2..${events - 1} appended through the Journal port in units of 1,000 events, version ${events} by a Post through the CommandBus (which took the snapshot)`,
        samples: { withSnapshot: snapshotReads, fullReplay: replayReads },
      },
      metrics: { withSnapshotMs: withSnapshot, fullReplayMs: fullReplay, speedupP50: speedup },
      tables: [
        {
          title: `Recovery of a ${events.toLocaleString('en-US')}-event aggregate (PostgreSQL)`,
          columns: ['load', 'samples', 'p50 ms', 'p99 ms', 'mean ms', 'max ms'],
          rows: [
            ['with snapshot (every 100)', snap.n, round(snap.p50), round(snap.p99), round(snap.mean), round(snap.max)],
            ['full replay (snapshots deleted)', full.n, round(full.p50), round(full.p99), round(full.mean), round(full.max)],
            ['speed-up (p50 full / p50 snapshot)', '', formatRatio(speedup), '', '', ''],
          ],
        },
      ],
      charts: [],
      targets: [
        {
          scenario: 'recovery',
          name: `Recovery of a ${events.toLocaleString('en-US')}-event aggregate with snapshots vs full replay`,
          target: '≥ 20× faster',
          measured: `${formatRatio(speedup)} (p50 ${round(snap.p50)} ms vs ${round(full.p50)} ms)`,
          status: speedup >= 20 ? 'PASS' : 'MISS',
        },
      ],
      notes: [],
    };
  } finally {
    await app?.close().catch(() => undefined);
    await schema.drop().catch(() => undefined);
  }
}

export const recovery: Scenario = {
  id: 'recovery',
  title: '3. Recovery of a 10,000-event aggregate: snapshot vs full replay',
  needs: ['postgres'],
  timeoutMs: { full: 180_000, quick: 45_000 },
  run,
};
