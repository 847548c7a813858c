import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import {
  AggregateCatalog,
  AppendConditionConflictError,
  CommandGateway,
  Decides,
  DecisionHandler,
  Event,
  Evolves,
  type AppendRequest,
  type EventQuery,
  type FeedCursor,
  type NewEvent,
} from '@chronicle/core';
import { runChronicleMigrations, TypeOrmJournal } from '@chronicle/typeorm';
import { BenchLedger, OpenLedger, Post } from '../domain/bench-ledger.aggregate.js';
import { closedLoopWithSamples, mergeRounds } from '../support/load.js';
import { freshSchema, pgQuery, POSTGRES_URL } from '../support/postgres.js';
import { formatRatio, percentile, ratio, round } from '../support/stats.js';
import type { LoadResult, ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

const CALLERS = 16;
const POOL_SIZE = 10;
const TYPE = 'bench.seat-taken';
const HOT_EVENTS = 10_000;
const READS = 30;

@Event(TYPE, { tags: (e: SeatTaken) => [`owner:${e.owner}`] })
class SeatTaken {
  constructor(readonly owner: string) {}
}

class TakeSeat {
  constructor(
    readonly aggregateId: string,
    readonly owner: string,
  ) {}
}

/** A decision with nothing to refuse: its cost is the read, the fold and the conditional append. */
@DecisionHandler<number>({ name: 'bench_seats', initialState: () => 0 })
class BenchSeats {
  @Evolves(SeatTaken)
  taken(state: number): number {
    return state + 1;
  }

  @Decides(TakeSeat, { tags: (c: TakeSeat) => [`owner:${c.owner}`] })
  take(command: TakeSeat): SeatTaken {
    return new SeatTaken(command.owner);
  }
}

function event(owner: string): NewEvent {
  return { eventId: randomUUID(), type: TYPE, schemaVersion: 1, payload: { owner }, metadata: {}, tags: [`owner:${owner}`], occurredAt: new Date() };
}

type Variant = 'plain' | 'conditional' | 'command' | 'decision' | 'decisionUncached';
const LABELS: Record<Variant, string> = {
  plain: 'plain appends, one unit per call (journal.append, no condition)',
  conditional: 'conditional appends, one unit per call (journal.append with condition; disjoint tags)',
  command: 'aggregate commands through the gateway (cached aggregates, group commit)',
  decision: 'decisions through the gateway (kept decision state: read the events since the last decision, fold, conditional append; conditional units batched among themselves; disjoint tags)',
  decisionUncached: 'the same decisions with the decision-state cache off (decisionCacheSize: 0: every decision reads all the events of its tag)',
};
const VARIANTS: Variant[] = ['plain', 'conditional', 'command', 'decision', 'decisionUncached'];

interface Caller {
  streamId: string;
  version: number;
  owner: string;
  after: FeedCursor | null;
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const params = context.params.throughput;
  const schema = await freshSchema(`${context.mode}_dcb`);
  const dataSource = new DataSource({ type: 'postgres', driver: pg, url: POSTGRES_URL, schema: schema.schema, extra: { max: POOL_SIZE } });
  await dataSource.initialize();
  const rounds = new Map<Variant, Array<Awaited<ReturnType<typeof closedLoopWithSamples>>>>();
  let reads: number[] = [];
  let hotDecisions: number[] = [];
  let hotCachedDecisions: number[] = [];
  let hotFirstCached = Number.NaN;
  let conflicts = 0;
  let conflictsInRounds = 0;
  let decisionOps = 0;
  try {
    await runChronicleMigrations(dataSource, { schema: schema.schema });
    const journal = new TypeOrmJournal(dataSource, { schema: schema.schema });
    // The gateway's journal counts the condition conflicts its decisions meet (each costs a retry).
    const counted = Object.create(journal) as TypeOrmJournal;
    counted.append = async (request: AppendRequest) => {
      try {
        return await journal.append(request);
      } catch (error) {
        if (error instanceof AppendConditionConflictError) conflicts++;
        throw error;
      }
    };
    const dependencies = () => ({
      catalog: new AggregateCatalog([BenchLedger]).addDecisions([new BenchSeats()]),
      journal: counted,
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const gateway = new CommandGateway(dependencies());
    const uncached = new CommandGateway(dependencies(), { decisionCacheSize: 0 });
    const callers = new Map<Variant, Caller[]>(
      VARIANTS.map((variant) => [variant, Array.from({ length: CALLERS }, (_, k) => ({ streamId: `${variant}-${k}`, version: 0, owner: `${variant}-${k}`, after: null }))]),
    );
    const query = (owner: string): EventQuery => [{ types: [TYPE], tags: [`owner:${owner}`] }];
    const plain = (variant: Variant, append: (request: AppendRequest) => Promise<unknown>) => async (k: number) => {
      const c = callers.get(variant)![k]!;
      await append({ writes: [{ streamId: c.streamId, aggregateType: 'bench', expectedVersion: c.version, events: [event(c.owner)] }] });
      c.version++;
    };
    const conditional = (variant: Variant, append: (request: AppendRequest) => Promise<{ cursor?: FeedCursor }>) => async (k: number) => {
      const c = callers.get(variant)![k]!;
      const result = await append({
        writes: [{ streamId: c.streamId, aggregateType: 'bench', expectedVersion: c.version, events: [event(c.owner)] }],
        condition: { failIfEventsMatch: query(c.owner), after: c.after },
      });
      c.version++;
      // Its own event is the newest match: the next condition starts after it.
      c.after = result.cursor ?? c.after;
    };
    const ops: Record<Variant, (caller: number) => Promise<unknown>> = {
      plain: plain('plain', (request) => journal.append(request)),
      conditional: conditional('conditional', (request) => journal.append(request)),
      command: (k) => gateway.execute(new Post(`ledger-${k}`, 1)),
      decision: (k) => gateway.execute(new TakeSeat(`d-${k}`, `decision-${k}`)),
      decisionUncached: (k) => uncached.execute(new TakeSeat(`du-${k}`, `decision-uncached-${k}`)),
    };
    for (let k = 0; k < CALLERS; k++) await gateway.execute(new OpenLedger(`ledger-${k}`, 'bench'));
    // Statistics first, as a deployment's would be: before the events table is analyzed the planner
    // may choose the type index for the condition's check (see the README).
    for (const variant of VARIANTS) for (let k = 0; k < CALLERS; k++) await ops[variant](k);
    await pgQuery(`ANALYZE "${schema.schema}".chronicle_events`);
    for (const variant of VARIANTS) {
      await closedLoopWithSamples({ label: 'warm-up', callers: CALLERS, warmupMs: 0, durationMs: params.warmupMs, op: (k) => ops[variant](k) });
    }
    for (let pass = 1; pass <= params.rounds; pass++) {
      const order = VARIANTS.map((_, index) => VARIANTS[(index + pass - 1) % VARIANTS.length]!);
      for (const variant of order) {
        const measured = await closedLoopWithSamples({
          label: `${variant} c${CALLERS}`,
          callers: CALLERS,
          warmupMs: params.warmupMs,
          durationMs: params.durationMs,
          op: (k) => ops[variant](k),
          measureDbCpu: true,
        });
        rounds.set(variant, [...(rounds.get(variant) ?? []), measured]);
        if (variant === 'decision') decisionOps += measured.result.ops;
        context.log(`round ${pass}/${params.rounds} ${variant.padEnd(11)} ${Math.round(measured.result.opsPerSec)} /s  p50 ${round(measured.result.p50Ms)} ms  p99 ${round(measured.result.p99Ms)} ms  errors ${measured.result.errors}`);
      }
    }

    conflictsInRounds = conflicts;
    // The cost of a decision's read on a tag with 10,000 events (among as many of other tags).
    const prefill = async (owner: string): Promise<void> => {
      for (let written = 0; written < HOT_EVENTS; written += 500) {
        await journal.append({ writes: [{ streamId: `prefill-${owner}-${written}`, aggregateType: 'bench', expectedVersion: 0, events: Array.from({ length: 500 }, () => event(owner)) }] });
      }
    };
    await prefill('hot');
    await prefill('cold');
    await pgQuery(`ANALYZE "${schema.schema}".chronicle_events`);
    for (let i = 0; i < READS + 3; i++) {
      const started = performance.now();
      const page = await journal.readByQuery(query('hot'));
      if (page.events.length < HOT_EVENTS) throw new Error(`the hot tag read ${page.events.length} events, expected ${HOT_EVENTS}`);
      if (i >= 3) reads.push(performance.now() - started);
    }
    for (let i = 0; i < 10 + 2; i++) {
      const started = performance.now();
      await uncached.execute(new TakeSeat(`hot-${i}`, 'hot'));
      if (i >= 2) hotDecisions.push(performance.now() - started);
    }
    // The first decision with the cache reads the whole tag; the next ones only what came since.
    for (let i = 0; i < READS + 1; i++) {
      const started = performance.now();
      await gateway.execute(new TakeSeat(`hot-cached-${i}`, 'hot'));
      if (i === 0) hotFirstCached = performance.now() - started;
      else hotCachedDecisions.push(performance.now() - started);
    }
    reads = reads.sort((a, b) => a - b);
    context.log(`decisions met ${conflictsInRounds} condition conflicts (each a retry) over ${decisionOps} measured decisions (warm-up included in the count)`);
    hotDecisions = hotDecisions.sort((a, b) => a - b);
    hotCachedDecisions = hotCachedDecisions.sort((a, b) => a - b);
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await schema.drop().catch(() => undefined);
  }

  const results = new Map<Variant, LoadResult>(VARIANTS.map((variant) => [variant, mergeRounds(rounds.get(variant) ?? [])]));
  const plain = results.get('plain')!;
  const check = (conditionalVariant: Variant, plainVariant: Variant, how: string): TargetCheck => {
    const c = results.get(conditionalVariant)!;
    const p = results.get(plainVariant)!;
    const value = ratio(c.opsPerSec, p.opsPerSec);
    return {
      scenario: 'dcb',
      name: `PostgreSQL, ${CALLERS} callers on disjoint tags: conditional vs plain appends, ${how}`,
      target: '≥ 0.7×',
      measured: `${formatRatio(value)} (${Math.round(c.opsPerSec)} vs ${Math.round(p.opsPerSec)} appends/s)`,
      status: value >= 0.7 ? 'PASS' : 'MISS',
    };
  };
  const decision = results.get('decision')!;
  const command = results.get('command')!;
  const uncached = results.get('decisionUncached')!;
  const targets: TargetCheck[] = [
    // The target: conditional appends against plain appends, the same unit otherwise.
    check('conditional', 'plain', 'one unit per call'),
    {
      // Not the target (a decision reads its query's events, an aggregate command finds its
      // aggregate cached): shown for what a whole decision costs through the gateway.
      scenario: 'dcb',
      name: `PostgreSQL, ${CALLERS} callers on disjoint tags: whole decisions (read, fold, conditional append) vs aggregate commands through the gateway`,
      target: '(none stated: a decision reads its query, an aggregate command hits its cache)',
      measured:
        `${formatRatio(ratio(decision.opsPerSec, command.opsPerSec))} (${Math.round(decision.opsPerSec)} vs ${Math.round(command.opsPerSec)}/s; ` +
        `decision-state cache off: ${Math.round(uncached.opsPerSec)}/s)`,
      status: 'INFO',
    },
  ];
  return {
    settings: {
      storage: 'postgres',
      callers: CALLERS,
      poolSize: POOL_SIZE,
      rounds: params.rounds,
      warmupMs: params.warmupMs,
      durationMs: params.durationMs,
      unit: 'one event with one tag (owner:<caller>) to the caller\'s own stream; the conditional unit\'s query is its own tag and the event type',
      order: 'after an unmeasured warm-up of each, rounds interleave the variants, each round starting with another one',
      hotTag: `${HOT_EVENTS} events of one tag among ${HOT_EVENTS} of another, read ${READS} times by readByQuery (after 3 unmeasured), then 10 decisions on it with the decision-state cache off (after 2), then ${READS + 1} with it (the first reads the whole tag)`,
    },
    metrics: {
      ...Object.fromEntries(results),
      hotRead: { p50Ms: round(percentile(reads, 50)), p99Ms: round(percentile(reads, 99)), samples: reads.map(round) },
      decisionConflicts: { conflicts: conflictsInRounds, decisions: decisionOps, note: 'condition conflicts met by decisions over warm-up and measured rounds, against the measured decisions' },
      hotDecision: { p50Ms: round(percentile(hotDecisions, 50)), p99Ms: round(percentile(hotDecisions, 99)), samples: hotDecisions.map(round) },
      hotDecisionCached: {
        firstMs: round(hotFirstCached),
        p50Ms: round(percentile(hotCachedDecisions, 50)),
        p99Ms: round(percentile(hotCachedDecisions, 99)),
        samples: hotCachedDecisions.map(round),
      },
    },
    tables: [
      {
        title: `PostgreSQL, ${CALLERS} callers on disjoint tags: appends and decisions per second`,
        columns: ['variant', 'per s', 'vs plain', 'p50 ms', 'p99 ms', 'DB CPU µs/op', 'rounds (per s)', 'errors'],
        rows: VARIANTS.map((variant) => {
          const r = results.get(variant)!;
          return [
            LABELS[variant],
            Math.round(r.opsPerSec),
            formatRatio(ratio(r.opsPerSec, plain.opsPerSec)),
            round(r.p50Ms),
            round(r.p99Ms),
            r.dbCpuUsPerOp === undefined ? '–' : Math.round(r.dbCpuUsPerOp),
            (r.roundOpsPerSec ?? [r.opsPerSec]).map((x) => Math.round(x)).join(', '),
            r.errors,
          ];
        }),
        caption: 'The first two go to the journal directly, one unit per call; the last two through the command gateway (group commit). Ratios against plain appends one unit per call.',
      },
      {
        title: `Reading a decision's events: one tag with ${HOT_EVENTS} events`,
        columns: ['what', 'p50 ms', 'p99 ms', 'samples'],
        rows: [
          ['readByQuery (type + tag), every event of the tag', round(percentile(reads, 50)), round(percentile(reads, 99)), reads.length],
          ['a whole decision on that tag, decision-state cache off (read all, fold, conditional append)', round(percentile(hotDecisions, 50)), round(percentile(hotDecisions, 99)), hotDecisions.length],
          ['the first decision on that tag with the cache (reads all, keeps the state)', round(hotFirstCached), '–', 1],
          ['the next decisions with the cache (read the events since, fold, conditional append)', round(percentile(hotCachedDecisions, 50)), round(percentile(hotCachedDecisions, 99)), hotCachedDecisions.length],
        ],
        caption:
          'The decision-state cache (gateway option decisionCacheSize, on by default) keeps what a decision folded and where its read ended; ' +
          'the next decision on the same query reads only the events committed since.',
      },
    ],
    charts: [],
    targets,
    notes: [],
  };
}

/** Dynamic consistency boundaries on PostgreSQL: conditional appends against plain ones, decisions through the gateway, and the read of a 10,000-event tag. */
export const dcb: Scenario = {
  id: 'dcb',
  title: 'Dynamic consistency boundaries (PostgreSQL): conditional vs plain appends at 16 callers, decisions, reading a 10,000-event tag',
  needs: ['postgres'],
  timeoutMs: { quick: 180_000, full: 600_000 },
  run,
};
