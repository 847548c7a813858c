import { randomUUID } from 'node:crypto';
import type { ChronicleOperations, OperationsRebuildProgress } from '../operations/chronicle-operations.service.js';

/** A projection rebuild started from the console, as its progress page shows it. */
export interface RebuildJob {
  id: string;
  projection: string;
  actor: string;
  startedAt: Date;
  state: 'running' | 'completed' | 'failed';
  progress: OperationsRebuildProgress;
  error?: string;
  finishedAt?: Date;
}

/** How many finished rebuilds this process remembers for their progress pages. */
const KEPT_JOBS = 50;

/**
 * The rebuilds started from this process's console: a rebuild outlives the request that started
 * it, so the request answers with the job's page and the page polls the job. One rebuild per
 * projection at a time; finished jobs are kept (the latest `KEPT_JOBS`) for their pages.
 */
export class RebuildJobs {
  private readonly jobs = new Map<string, RebuildJob>();

  /** Starts a rebuild, or returns the one of this projection still running. `onEnd` gets the outcome. */
  start(operations: ChronicleOperations, projection: string, actor: string, onEnd: (job: RebuildJob) => void): { job: RebuildJob; started: boolean } {
    for (const job of this.jobs.values()) if (job.projection === projection && job.state === 'running') return { job, started: false };
    const job: RebuildJob = {
      id: randomUUID(),
      projection,
      actor,
      startedAt: new Date(),
      state: 'running',
      progress: { read: 0, handled: 0, parked: 0, position: null, total: 0 },
    };
    this.jobs.set(job.id, job);
    this.trim();
    void operations
      .rebuild(projection, (progress) => (job.progress = progress))
      .then(
        (result) => {
          job.progress = result;
          job.state = 'completed';
        },
        (error: unknown) => {
          job.state = 'failed';
          job.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        },
      )
      .finally(() => {
        job.finishedAt = new Date();
        onEnd(job);
      });
    return { job, started: true };
  }

  /** A job by id, if this process still knows it. */
  get(id: string): RebuildJob | undefined {
    return this.jobs.get(id);
  }

  private trim(): void {
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= KEPT_JOBS) break;
      if (job.state !== 'running') this.jobs.delete(id);
    }
  }
}
