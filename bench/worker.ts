import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { SCENARIOS } from './scenarios/index.js';
import { PARAMS } from './support/config.js';
import { fullGc } from './support/gc.js';
import { postgresUnavailable } from './support/postgres.js';
import { RssSampler } from './support/rss-sampler.js';
import { mb } from './support/stats.js';
import type { BenchMode, ScenarioResult } from './support/types.js';

/*
 * Runs one scenario in this process and writes its result (or its error) as JSON to a file.
 * Started by run.ts: node --expose-gc dist/bench/worker.js <scenario id> <full|quick> <result file> <temp dir>
 */
const [id, modeArg, outFile, tempDir] = process.argv.slice(2);
const mode: BenchMode = modeArg === 'quick' ? 'quick' : 'full';
const scenario = SCENARIOS.find((s) => s.id === id);
const strays: string[] = [];

// A stray rejection inside the library must not take the figures of the whole scenario with it.
process.on('unhandledRejection', (reason) => {
  const text = `unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`;
  strays.push(text.slice(0, 500));
  process.stderr.write(`[${id}] ${text}\n`);
});

async function main(): Promise<ScenarioResult> {
  if (!scenario || !outFile || !tempDir) throw new Error(`usage: worker.js <${SCENARIOS.map((s) => s.id).join('|')}> <full|quick> <result file> <temp dir>`);
  const sampler = new RssSampler(100).start();
  const started = performance.now();
  const loadAvgAtStart = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  try {
    if (scenario.needs.includes('postgres')) {
      const reason = await postgresUnavailable();
      if (reason) throw new Error(reason);
    }
    fullGc();
    const output = await scenario.run({
      mode,
      params: PARAMS[mode],
      tempDir,
      log: (message) => process.stderr.write(`[${scenario.id}] ${message}\n`),
    });
    if (strays.length > 0) output.notes.push(...strays.map((s) => `During the run: ${s}`));
    return {
      id: scenario.id,
      title: scenario.title,
      status: 'ok',
      wallMs: performance.now() - started,
      processPeakRssMb: mb(sampler.stop()),
      loadAvgAtStart,
      ...output,
    };
  } catch (error) {
    return {
      id: scenario.id,
      title: scenario.title,
      status: 'error',
      error: ((error as Error)?.stack ?? String(error)).slice(0, 4000),
      wallMs: performance.now() - started,
      processPeakRssMb: mb(sampler.stop()),
      loadAvgAtStart,
      notes: strays,
    };
  }
}

const result = await main().catch((error: unknown) => ({
  id: id ?? '?',
  title: id ?? '?',
  status: 'error' as const,
  error: String((error as Error)?.stack ?? error),
  wallMs: 0,
}));
if (outFile) writeFileSync(outFile, JSON.stringify(result, null, 2));
// Pools or timers the scenario could not close must not keep the process (and the run) waiting.
process.exit(0);
