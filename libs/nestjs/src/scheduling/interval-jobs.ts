import type { SchedulerRegistry } from '@nestjs/schedule';

/**
 * The polling jobs of one service: `setInterval`s that do not keep the process alive, registered
 * by name in `@nestjs/schedule`'s SchedulerRegistry when the application has one (the library
 * never imports ScheduleModule itself), and all stopped and unregistered together.
 */
export class IntervalJobs {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly registry: SchedulerRegistry | undefined) {}

  /** Runs `job` every `everyMs` under `name`. */
  add(name: string, everyMs: number, job: () => void): void {
    const timer = setInterval(job, everyMs);
    timer.unref();
    this.timers.set(name, timer);
    this.registry?.addInterval(name, timer);
  }

  /** Stops and unregisters every job. */
  clear(): void {
    for (const [name, timer] of this.timers) {
      clearInterval(timer);
      if (this.registry?.doesExist('interval', name)) this.registry.deleteInterval(name);
    }
    this.timers.clear();
  }
}
