import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import {
  CreatePersonalProfile,
  CreatePlainProfile,
  PersonalProfile,
  PlainProfile,
  RenamePersonalProfile,
  RenamePlainProfile,
} from '../domain/bench-profile.aggregate.js';
import { bootBenchApp, type BenchApp } from '../support/bench-app.js';
import { closedLoopWithSamples, forEachConcurrent, mergeRounds } from '../support/load.js';
import { freshSchema } from '../support/postgres.js';
import { formatRatio, ratio, round } from '../support/stats.js';
import type { LoadResult, ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

type Variant = 'plain' | 'personal';
const VARIANTS: Variant[] = ['plain', 'personal'];
const CALLERS = [16, 64];
const WANTED = 0.85;

function aggregateIndex(caller: number, iteration: number, callers: number, aggregates: number): number {
  const perCaller = Math.max(1, Math.floor(aggregates / callers));
  return caller + callers * (iteration % perCaller);
}

async function runPersonalData(context: ScenarioContext): Promise<ScenarioOutput> {
  const params = context.params.throughput;
  const ids = Array.from({ length: params.aggregates }, (_, i) => `p-${String(i).padStart(6, '0')}`);
  const apps = new Map<Variant, BenchApp>();
  const cleanups: Array<() => Promise<void>> = [];
  const results: Record<Variant, LoadResult[]> = { plain: [], personal: [] };
  const settings: Record<string, unknown> = {
    storage: 'postgres',
    aggregates: params.aggregates,
    callers: CALLERS,
    rounds: params.rounds,
    warmupMs: `${params.warmupMs} per measurement`,
    durationMs: `${params.durationMs} measured per round; figures merge the rounds`,
    poolSize: params.poolSize,
    command: 'rename(profileId, name): one event per command carrying the profile id and a 20-character name',
    plain: 'EventSourcingModule without personalData; the name is a plain field',
    personal:
      'EventSourcingModule with personalData: { masterKeys } (TypeOrmKeyStore, default keyCacheTtlMs); the name is @PersonalData, the profile its subject: ' +
      'AES-256-GCM with the profile\'s data key, created when the profile was created (before the measurement)',
    order: 'per round, per caller count: plain then personal in odd rounds, personal then plain in even ones, back to back in one process (both apps stay open)',
  };
  try {
    for (const variant of VARIANTS) {
      const schema = await freshSchema(`${context.mode}_pd_${variant}`);
      cleanups.push(schema.drop);
      const app = await bootBenchApp({
        storage: { kind: 'postgres', schema: schema.schema, poolSize: params.poolSize },
        aggregates: [variant === 'plain' ? PlainProfile : PersonalProfile],
        ...(variant === 'personal' ? { personalData: { masterKeys: { current: { id: 'bench', key: randomBytes(32).toString('base64') } } } } : {}),
      });
      apps.set(variant, app);
      const started = performance.now();
      await forEachConcurrent(ids, 32, (id) => app.commandBus.execute(variant === 'plain' ? new CreatePlainProfile(id) : new CreatePersonalProfile(id)));
      // One personal event per profile, so every subject has its data key before the measurement.
      await forEachConcurrent(ids, 32, (id) => app.commandBus.execute(variant === 'plain' ? new RenamePlainProfile(id, 'Initial Name Of Prof') : new RenamePersonalProfile(id, 'Initial Name Of Prof')));
      context.log(`${variant}: created ${ids.length} profiles in ${Math.round(performance.now() - started)} ms`);
    }
    const rounds = new Map<string, Array<Awaited<ReturnType<typeof closedLoopWithSamples>>>>();
    for (let pass = 1; pass <= params.rounds; pass++) {
      for (const callers of CALLERS) {
        // The order alternates by round, so what one window leaves behind (a checkpoint, autovacuum)
        // does not always land in the same variant's window.
        for (const variant of pass % 2 === 1 ? VARIANTS : [...VARIANTS].reverse()) {
          const app = apps.get(variant)!;
          const measured = await closedLoopWithSamples({
            label: `${variant} c${callers}`,
            callers,
            warmupMs: params.warmupMs,
            durationMs: params.durationMs,
            op: (caller, iteration) => {
              const id = ids[aggregateIndex(caller, iteration, callers, ids.length)]!;
              const name = `Name ${String(iteration % 10_000).padStart(4, '0')} Of Caller ${String(caller).padStart(2, '0')}`.slice(0, 20);
              return app.commandBus.execute(variant === 'plain' ? new RenamePlainProfile(id, name) : new RenamePersonalProfile(id, name));
            },
            measureDbCpu: true,
          });
          const key = `${variant}|${callers}`;
          rounds.set(key, [...(rounds.get(key) ?? []), measured]);
          const r = measured.result;
          context.log(
            `round ${pass}/${params.rounds} ${variant.padEnd(8)} callers=${String(callers).padStart(2)}  ${Math.round(r.opsPerSec)} cmd/s  ` +
              `p50 ${round(r.p50Ms)} ms  p99 ${round(r.p99Ms)} ms  CPU node ${Math.round(r.cpuPct)}%${r.dbCpuPct === undefined ? '' : ` db ${Math.round(r.dbCpuPct)}%`}  errors ${r.errors}`,
          );
        }
      }
    }
    for (const callers of CALLERS) for (const variant of VARIANTS) results[variant].push(mergeRounds(rounds.get(`${variant}|${callers}`)!));
  } finally {
    for (const app of apps.values()) await app.close().catch((error: unknown) => context.log(`close failed: ${(error as Error).message}`));
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }

  const find = (variant: Variant, callers: number) => results[variant].find((r) => r.callers === callers);
  const rows: Array<Array<string | number>> = [];
  const targets: TargetCheck[] = [];
  for (const callers of CALLERS) {
    const plain = find('plain', callers);
    for (const variant of VARIANTS) {
      const r = find(variant, callers);
      if (!r) continue;
      rows.push([
        callers,
        variant,
        Math.round(r.opsPerSec),
        round(r.p50Ms),
        round(r.p99Ms),
        variant === 'plain' ? '1.00×' : formatRatio(ratio(r.opsPerSec, plain?.opsPerSec ?? 0)),
        r.roundOpsPerSec ? `${Math.round(Math.min(...r.roundOpsPerSec))}–${Math.round(Math.max(...r.roundOpsPerSec))}` : '(1 round)',
        r.errors,
        Math.round(r.cpuPct),
        Math.round(r.cpuUsPerOp),
        r.dbCpuPct === undefined ? 'n/a' : Math.round(r.dbCpuPct),
      ]);
    }
    const personal = find('personal', callers);
    if (plain && personal) {
      const value = ratio(personal.opsPerSec, plain.opsPerSec);
      targets.push({
        scenario: 'personal-data-postgres',
        name: `PostgreSQL, one personal field vs none, ${callers} callers`,
        target: `≥ ${WANTED}× the same command without it`,
        measured: `${formatRatio(value)} (${Math.round(personal.opsPerSec)} vs ${Math.round(plain.opsPerSec)} cmd/s)`,
        status: value >= WANTED ? 'PASS' : 'MISS',
      });
    }
  }
  const errorNotes = VARIANTS.flatMap((variant) =>
    results[variant].filter((r) => r.errors > 0).map((r) => `${r.label}: ${r.errors} failed commands, e.g. ${r.errorSamples[0] ?? '?'}`),
  );
  return {
    settings,
    metrics: { results },
    tables: [
      {
        title: 'PostgreSQL: a command whose event has one @PersonalData field vs the same command without it',
        columns: ['callers', 'variant', 'cmd/s', 'p50 ms', 'p99 ms', 'vs plain', 'cmd/s per round (min–max)', 'errors', 'Node CPU %', 'Node CPU µs/cmd', 'PostgreSQL CPU %'],
        rows,
        caption:
          'Both variants run the same aggregate shape through the CommandBus in one process, one schema each; ratios divide by the plain variant at the same caller count in this run. ' +
          `Node CPU: 100 % = one core; the machine has ${cpus().length}, shared with the database.`,
      },
    ],
    charts: [],
    targets,
    notes: errorNotes,
  };
}

export const personalDataPostgres: Scenario = {
  id: 'personal-data-postgres',
  title: '8. Crypto-shredding: commands with one @PersonalData field vs none on PostgreSQL (16/64 callers)',
  needs: ['postgres'],
  timeoutMs: { full: 300_000, quick: 90_000 },
  run: runPersonalData,
};
