import type { Settled } from './settle.js';

/** Whether a run is the full one or the quick smoke run. */
export type BenchMode = 'full' | 'quick';

/** One measured load run (closed or open loop). */
export interface LoadResult {
  label: string;
  callers: number;
  /** Operations measured (warm-up excluded). */
  ops: number;
  errors: number;
  /** The first few error messages, verbatim. */
  errorSamples: string[];
  /** Measured window, from the end of the warm-up to the last measured completion. */
  durationMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** Peak resident set size of the benchmark process during the run. */
  peakRssMb: number;
  /** CPU time of this Node process (user + system) over the measured window, in % of one core. */
  cpuPct: number;
  /** That CPU time per measured operation, in microseconds. */
  cpuUsPerOp: number;
  /** CPU time of the local PostgreSQL server's processes over the window, in % of one core (when measurable). */
  dbCpuPct?: number;
  /** That CPU time per measured operation, in microseconds. */
  dbCpuUsPerOp?: number;
  /** When the figure merges several rounds: each round's operations per second. */
  roundOpsPerSec?: number[];
}

/** A table of the report. */
export interface ResultTable {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Shown under the table. */
  caption?: string;
}

/** A bar or line chart of the report (rendered as a Mermaid xychart-beta). */
export interface ResultChart {
  title: string;
  kind: 'bar' | 'line';
  xLabels: string[];
  yLabel: string;
  values: number[];
}

/** A target of the issue and how the run measured up. */
export interface TargetCheck {
  scenario: string;
  name: string;
  target: string;
  measured: string;
  /** INFO: reported without a threshold; ERROR: the scenario failed before it could be measured. */
  status: 'PASS' | 'MISS' | 'INFO' | 'ERROR';
}

/** What a scenario hands back: raw figures for the JSON, tables, charts and targets for the report. */
export interface ScenarioOutput {
  /** Settings that shape the numbers (counts, durations, pool sizes, options). */
  settings: Record<string, unknown>;
  /** Raw figures, kept in the JSON. */
  metrics: Record<string, unknown>;
  tables: ResultTable[];
  charts: ResultChart[];
  targets: TargetCheck[];
  notes: string[];
}

/** A scenario's entry in the results file. */
export interface ScenarioResult extends Partial<ScenarioOutput> {
  id: string;
  title: string;
  status: 'ok' | 'error' | 'skipped';
  error?: string;
  /** Wall time of the scenario's process. */
  wallMs: number;
  /** Peak RSS of the scenario's process over the whole scenario. */
  processPeakRssMb?: number;
  /** The machine's 1-minute load average when the scenario started (other work on the machine shows here). */
  loadAvgAtStart?: number;
  /** Share of the machine's CPU time the hypervisor gave to other guests while the scenario ran, in percent (Linux only). */
  stolenCpuPct?: number;
  /** The wait before the scenario for the machine to go quiet (see `settleMachine`). */
  settled?: Settled;
}

/** The machine a run measured. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  ramGb: number;
  os: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  sqlite: string;
  packages: Record<string, string>;
  git: { commit: string; dirtyFiles: number; dirtyLibFiles: string[] };
}

/** The whole results file. */
export interface BenchRun {
  schema: 'chronicle-bench/1';
  mode: BenchMode;
  command: string;
  startedAt: string;
  finishedAt: string;
  wallMs: number;
  /** Share of the machine's CPU time stolen by the hypervisor over the whole run, in percent (Linux only). */
  stolenCpuPct?: number;
  machine: MachineInfo;
  /** The library's defaults the run measured with (scenarios pass no gateway options unless stated). */
  library: { gatewayDefaults: Record<string, unknown> };
  scenarios: ScenarioResult[];
  targets: TargetCheck[];
}
