/** Percentile by nearest rank over unsorted samples (0 when there are none). */
export function percentile(samples: ArrayLike<number>, p: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank]!;
}

/** p50, p99, mean and max of latency samples in milliseconds. */
export function summarize(samples: ArrayLike<number>): { p50: number; p99: number; mean: number; max: number; n: number } {
  const n = samples.length;
  if (n === 0) return { p50: 0, p99: 0, mean: 0, max: 0, n: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { p50: at(50), p99: at(99), mean: sum / n, max: sorted[n - 1]!, n };
}

/** Rounds for display and JSON: 0 decimals above 100, 1 above 10, else 2. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** a / b, or NaN when b is not positive. */
export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : Number.NaN;
}

/** "2.31×", or "n/a". */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a';
}

/** Bytes as MiB. */
export function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}
