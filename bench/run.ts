import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveCommandGatewayOptions } from '@chronicle/core/internal';
import { SCENARIOS } from './scenarios/index.js';
import { readCpuTimes, stolenPercent } from './support/cpu-times.js';
import { describeMachine } from './support/machine.js';
import { dropRunSchemas, postgresUnavailable } from './support/postgres.js';
import { renderMarkdown, renderSummary } from './support/report.js';
import { settleMachine } from './support/settle.js';
import type { BenchMode, BenchRun, ScenarioResult, TargetCheck } from './support/types.js';

/*
 * The benchmark harness: `npm run bench` (full, < 15 min) or `npm run bench -- --quick` (< 2 min).
 * Runs every scenario in its own Node process, then writes bench/results/<timestamp>-<mode>.json,
 * bench/results/latest.json and BENCHMARKS.md, and prints a summary.
 *
 * Options: --quick, --only=<id,id>, --no-markdown (JSON only), --list.
 */

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: the nearest directory above this file (dist/bench/run.js) with the project's package.json. */
const root = findRoot(here);

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'chronicle') return dir;
    if (dirname(dir) === dir) return resolve(from, '..', '..');
  }
}

function parseArgs(argv: string[]): { mode: BenchMode; only?: string[]; markdown: boolean; list: boolean } {
  const known = new Set(['--quick', '--no-markdown', '--list']);
  let only: string[] | undefined;
  for (const arg of argv) {
    if (arg.startsWith('--only=')) only = arg.slice('--only='.length).split(',').map((s) => s.trim()).filter(Boolean);
    else if (!known.has(arg)) throw new Error(`Unknown argument ${arg}. Use --quick, --only=<ids>, --no-markdown, --list.`);
  }
  const ids = new Set(SCENARIOS.map((s) => s.id));
  for (const id of only ?? []) if (!ids.has(id)) throw new Error(`Unknown scenario "${id}". Scenarios: ${[...ids].join(', ')}.`);
  return { mode: argv.includes('--quick') ? 'quick' : 'full', only, markdown: !argv.includes('--no-markdown'), list: argv.includes('--list') };
}

function runScenario(id: string, mode: BenchMode, runId: string, timeoutMs: number, title: string): Promise<ScenarioResult> {
  const workDir = mkdtempSync(join(tmpdir(), `chronicle-bench-${id}-`));
  const outFile = join(workDir, 'result.json');
  const started = performance.now();
  const cpuBefore = readCpuTimes();
  return new Promise((resolvePromise) => {
    // BENCH_NODE_ARGS (for example `--cpu-prof --cpu-prof-dir=/tmp/prof`) reaches the scenario's
    // process: Node refuses --cpu-prof in NODE_OPTIONS.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs, join(here, 'worker.js'), id, mode, outFile, workDir], {
      cwd: root,
      env: { ...process.env, BENCH_RUN_ID: runId },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.stderr.write(`[${id}] still running after ${timeoutMs / 1000} s: killing it (pid ${child.pid})\n`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let result: ScenarioResult | undefined;
      if (existsSync(outFile)) {
        try {
          result = JSON.parse(readFileSync(outFile, 'utf8')) as ScenarioResult;
        } catch (error) {
          result = undefined;
          process.stderr.write(`[${id}] unreadable result: ${(error as Error).message}\n`);
        }
      }
      rmSync(workDir, { recursive: true, force: true });
      const stolenCpuPct = stolenPercent(cpuBefore, readCpuTimes());
      resolvePromise({
        ...(result ?? {
          id,
          title,
          status: 'error',
          error: timedOut
            ? `The scenario did not finish within its ${timeoutMs / 1000} s limit and was killed.`
            : `The scenario process exited (code ${String(code)}, signal ${String(signal)}) without a result.`,
          wallMs: performance.now() - started,
        }),
        ...(stolenCpuPct === undefined ? {} : { stolenCpuPct }),
      });
    });
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.id.padEnd(20)} ${s.title}\n`);
    return 0;
  }
  const startedAt = new Date();
  const started = performance.now();
  const runCpuBefore = readCpuTimes();
  const runId = `${startedAt.getTime().toString(36)}${randomBytes(2).toString('hex')}`;
  const extra = process.argv.slice(2).join(' ');
  const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench${extra ? ` -- ${extra}` : ''}` : `node dist/bench/run.js${extra ? ` ${extra}` : ''}`;
  const pgReason = await postgresUnavailable();
  if (pgReason) process.stderr.write(`${pgReason}: the PostgreSQL scenarios will be recorded as failed.\n`);
  const machine = await describeMachine(root, pgReason === undefined);
  process.stderr.write(
    `Chronicle bench, ${args.mode} mode: ${machine.cpuModel} ×${machine.cores}, ${machine.ramGb} GiB, Node ${machine.node}, ${machine.postgres}\n`,
  );

  const selected = SCENARIOS.filter((s) => !args.only || args.only.includes(s.id));
  const scenarios: ScenarioResult[] = [];
  for (const scenario of selected) {
    process.stderr.write(`\n=== ${scenario.title}\n`);
    const settled = await settleMachine(pgReason === undefined);
    process.stderr.write(`[${scenario.id}] machine settled after ${(settled.waitedMs / 1000).toFixed(1)} s (CPU ${settled.busyPct ?? '?'} % busy${settled.checkpointed ? ', after a CHECKPOINT' : ''})\n`);
    const result = { ...(await runScenario(scenario.id, args.mode, runId, scenario.timeoutMs[args.mode], scenario.title)), settled };
    if (result.status === 'error') process.stderr.write(`[${scenario.id}] FAILED: ${(result.error ?? '').split('\n')[0]}\n`);
    scenarios.push(result);
    if (pgReason === undefined) {
      // A killed process leaves its schemas behind: drop whatever this run created.
      const left = await dropRunSchemas(runId).catch(() => []);
      if (left.length > 0) process.stderr.write(`[${scenario.id}] dropped leftover schemas ${left.join(', ')}\n`);
    }
  }

  const targets: TargetCheck[] = scenarios.flatMap((s): TargetCheck[] =>
    s.status === 'ok'
      ? (s.targets ?? [])
      : [{ scenario: s.id, name: s.title, target: '(scenario targets)', measured: `scenario failed: ${(s.error ?? '').split('\n')[0]}`, status: 'ERROR' }],
  );
  const runStolenCpuPct = stolenPercent(runCpuBefore, readCpuTimes());
  const run: BenchRun = {
    schema: 'chronicle-bench/1',
    mode: args.mode,
    command,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    wallMs: performance.now() - started,
    ...(runStolenCpuPct === undefined ? {} : { stolenCpuPct: runStolenCpuPct }),
    machine,
    library: { gatewayDefaults: { ...resolveCommandGatewayOptions({}) } },
    scenarios,
    targets,
  };

  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsFile = join(resultsDir, `${stamp}-${args.mode}.json`);
  const json = `${JSON.stringify(run, null, 2)}\n`;
  writeFileSync(resultsFile, json);
  writeFileSync(join(resultsDir, 'latest.json'), json);
  if (args.markdown) writeFileSync(join(root, 'BENCHMARKS.md'), renderMarkdown(run, relative(root, resultsFile)));

  process.stdout.write(`\n${renderSummary(run)}\n\n`);
  process.stdout.write(`Results: ${relative(root, resultsFile)}, bench/results/latest.json${args.markdown ? ', BENCHMARKS.md' : ''}\n`);
  return scenarios.some((s) => s.status === 'error') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(2);
  },
);
