/**
 * Counts permits; `acquire` waits at most `timeoutMs` and resolves to false when it gave up.
 * Waiters are served first come, first served.
 */
export class Semaphore {
  private available: number;
  private readonly waiters: Array<(granted: boolean) => void> = [];

  constructor(readonly permits: number) {
    this.available = permits;
  }

  acquire(timeoutMs: number): Promise<boolean> {
    if (this.available > 0) {
      this.available--;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const waiter = (granted: boolean): void => {
        clearTimeout(timer);
        resolve(granted);
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(true);
    else this.available++;
  }
}
