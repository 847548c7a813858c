import { readFileSync } from 'node:fs';

/** The machine's CPU time counters from `/proc/stat` (all cores), in clock ticks. */
export interface CpuTimes {
  total: number;
  steal: number;
  /** Idle and waiting for I/O. */
  idle: number;
}

/**
 * The machine's cumulative CPU times, or undefined off Linux. On a virtual machine, `steal` is the
 * time the hypervisor gave this machine's virtual CPUs to other guests: a benchmark measured while
 * it rises is slowed by work that is not on this machine at all, which no load average shows.
 */
export function readCpuTimes(): CpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((candidate) => candidate.startsWith('cpu '));
    if (line === undefined) return undefined;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user).
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((value) => !Number.isFinite(value))) return undefined;
    return { total: fields.reduce((sum, value) => sum + value, 0), steal: fields[7]!, idle: fields[3]! + fields[4]! };
  } catch {
    return undefined;
  }
}

/** The share of the machine's CPU time stolen between two readings, in percent (one decimal), or undefined. */
export function stolenPercent(before: CpuTimes | undefined, after: CpuTimes | undefined): number | undefined {
  if (before === undefined || after === undefined || after.total <= before.total) return undefined;
  return Math.round((1000 * (after.steal - before.steal)) / (after.total - before.total)) / 10;
}

/** The share of the machine's CPU time spent busy (not idle, not waiting for I/O) between two readings, in percent, or undefined. */
export function busyPercent(before: CpuTimes | undefined, after: CpuTimes | undefined): number | undefined {
  if (before === undefined || after === undefined || after.total <= before.total) return undefined;
  return Math.round((1000 * (1 - (after.idle - before.idle) / (after.total - before.total)))) / 10;
}
