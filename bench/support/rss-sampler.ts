/**
 * Samples the process's resident set size on an interval and keeps the peak. Sampling is cheap
 * (one syscall); the interval timer is unref'd so it never keeps the process alive.
 */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 50) {}

  start(): this {
    this.peak = process.memoryUsage.rss();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Takes a sample now (also useful right before reading the peak). */
  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
    return rss;
  }

  /** Peak RSS in bytes since start (or the last reset). */
  get peakBytes(): number {
    this.sample();
    return this.peak;
  }

  reset(): void {
    this.peak = process.memoryUsage.rss();
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.peakBytes;
  }
}
