import type { BenchParams } from '../support/config.js';
import type { BenchMode, ScenarioOutput } from '../support/types.js';

/** What a scenario gets from the worker process that runs it. */
export interface ScenarioContext {
  mode: BenchMode;
  params: BenchParams;
  /** A temp directory of this scenario (SQLite files), removed afterwards. */
  tempDir: string;
  /** Progress on stderr, prefixed with the scenario id. */
  log(message: string): void;
}

/**
 * One benchmark scenario. Each runs in its own Node process (clean heap and RSS, and a crash or
 * hang costs only its own figures), on its own PostgreSQL schema(s) or SQLite file(s).
 */
export interface Scenario {
  /** Stable id, used by `--only` and as the key in the results file. */
  id: string;
  title: string;
  /** What it needs: scenarios on PostgreSQL are recorded as errors when it is unreachable. */
  needs: ReadonlyArray<'postgres'>;
  /** Hard limit of the scenario's process; it is killed and recorded as failed past it. */
  timeoutMs: Record<BenchMode, number>;
  run(context: ScenarioContext): Promise<ScenarioOutput>;
}
