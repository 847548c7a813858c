import { CheckpointLeaseLostError } from '../errors/checkpoint-lease-lost.error.js';
import type { Checkpoint, CheckpointAdvance, CheckpointReset, CheckpointStore, ParkedEvent, ParkedQuery } from '../ports/checkpoint-store.port.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import { checkIntegerArgument } from '../ports/integer-argument.js';
import { checkParkedEvents } from '../subscriptions/parked-event-checks.js';
import { compareCodePoints } from './code-point-order.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';

/** A unit of work whose changes apply only when it commits. */
class Staging implements InMemoryTransaction {
  private readonly callbacks: (() => void)[] = [];
  private open = true;

  onCommit(apply: () => void): void {
    if (!this.open) throw new Error('The in-memory unit of work has ended; register onCommit callbacks inside the work.');
    this.callbacks.push(apply);
  }

  commit(): void {
    this.open = false;
    for (const apply of this.callbacks) apply();
  }

  /** How many changes are registered: a savepoint to roll back to. */
  mark(): number {
    return this.callbacks.length;
  }

  /** Drops the changes registered since `mark`. */
  rollbackTo(mark: number): void {
    this.callbacks.length = mark;
  }

  end(): void {
    this.open = false;
  }
}

function copyCheckpoint(checkpoint: Checkpoint): Checkpoint {
  return {
    ...checkpoint,
    leaseUntil: checkpoint.leaseUntil && new Date(checkpoint.leaseUntil),
    updatedAt: new Date(checkpoint.updatedAt),
  };
}

/** A copy of a parked event, filed under `subscription` when given (the checkpoint it was parked by). */
function copyParked(event: ParkedEvent, subscription: string = event.subscription): ParkedEvent {
  return {
    ...event,
    subscription,
    parkedAt: new Date(event.parkedAt),
    redriveRequestedAt: event.redriveRequestedAt && new Date(event.redriveRequestedAt),
  };
}

function byStreamAndVersion(a: ParkedEvent, b: ParkedEvent): number {
  return compareCodePoints(a.streamId, b.streamId) || a.version - b.version;
}

/**
 * Checkpoints in memory, for unit tests and the test kit. The work of a step gets an
 * {@link InMemoryTransaction}: changes registered with `onCommit` apply only if the step's fencing
 * still holds once the work has finished, together with the checkpoint.
 */
export class InMemoryCheckpointStore implements CheckpointStore<InMemoryTransaction> {
  private readonly checkpoints = new Map<string, Checkpoint>();
  /** Subscription → event id → parked event. */
  private readonly parkedEvents = new Map<string, Map<string, ParkedEvent>>();

  constructor(private readonly clock: Clock = systemClock) {}

  async acquire(name: string, owner: string, leaseMs: number): Promise<Checkpoint | undefined> {
    checkIntegerArgument('leaseMs', leaseMs, 1);
    const now = this.clock.now();
    let checkpoint = this.checkpoints.get(name);
    if (!checkpoint) {
      checkpoint = { name, position: null, leaseOwner: null, leaseUntil: null, lastError: null, updatedAt: now };
      this.checkpoints.set(name, checkpoint);
    }
    const free = checkpoint.leaseOwner === null || checkpoint.leaseOwner === owner || !checkpoint.leaseUntil || checkpoint.leaseUntil <= now;
    if (!free) return undefined;
    checkpoint.leaseOwner = owner;
    checkpoint.leaseUntil = new Date(now.getTime() + leaseMs);
    return copyCheckpoint(checkpoint);
  }

  async release(name: string, owner: string): Promise<void> {
    const checkpoint = this.checkpoints.get(name);
    if (checkpoint?.leaseOwner === owner) {
      checkpoint.leaseOwner = null;
      checkpoint.leaseUntil = null;
    }
  }

  async advance<T = void>(step: CheckpointAdvance, work?: (tx: InMemoryTransaction) => Promise<T>): Promise<T | undefined> {
    checkParkedEvents('step.park', step.park);
    this.fence(step);
    const staging = new Staging();
    let result: T | undefined;
    try {
      result = work ? await work(staging) : undefined;
      // The work awaited: someone may have moved the checkpoint meanwhile.
      this.fence(step);
    } catch (error) {
      staging.end();
      throw error;
    }
    const checkpoint = this.checkpoints.get(step.name)!;
    checkpoint.position = step.to;
    checkpoint.updatedAt = this.clock.now();
    if (step.lastError !== undefined) checkpoint.lastError = step.lastError;
    const parked = this.parkedOf(step.name);
    for (const event of step.park ?? []) parked.set(event.eventId, copyParked(event, step.name));
    for (const eventId of step.unpark ?? []) parked.delete(eventId);
    if (step.clearRedrive !== undefined) {
      for (const event of parked.values()) if (event.streamId === step.clearRedrive) event.redriveRequestedAt = null;
    }
    staging.commit();
    return result;
  }

  async recordError(name: string, owner: string, error: string): Promise<void> {
    const checkpoint = this.checkpoints.get(name);
    if (checkpoint?.leaseOwner === owner) {
      checkpoint.lastError = error;
      checkpoint.updatedAt = this.clock.now();
    }
  }

  async load(name: string): Promise<Checkpoint | undefined> {
    const checkpoint = this.checkpoints.get(name);
    return checkpoint && copyCheckpoint(checkpoint);
  }

  async list(): Promise<Checkpoint[]> {
    return [...this.checkpoints.values()].sort((a, b) => compareCodePoints(a.name, b.name)).map(copyCheckpoint);
  }

  async parked(name: string, options: ParkedQuery = {}): Promise<ParkedEvent[]> {
    if (options.limit !== undefined) checkIntegerArgument('limit', options.limit, 0);
    const events = [...this.parkedOf(name).values()]
      .filter((event) => options.streamId === undefined || event.streamId === options.streamId)
      .filter((event) => !options.redriveRequested || event.redriveRequestedAt !== null)
      .sort(byStreamAndVersion);
    return events.slice(0, options.limit ?? events.length).map((event) => copyParked(event));
  }

  async requestRedrive(name: string, streamId?: string): Promise<number> {
    let count = 0;
    const now = this.clock.now();
    for (const event of this.parkedOf(name).values()) {
      if (streamId !== undefined && event.streamId !== streamId) continue;
      event.redriveRequestedAt = now;
      count += 1;
    }
    return count;
  }

  async reset(name: string, work: (tx: InMemoryTransaction) => Promise<CheckpointReset>): Promise<CheckpointReset> {
    const staging = new Staging();
    let result: CheckpointReset;
    try {
      result = await work(staging);
      checkParkedEvents('reset park', result.park);
    } catch (error) {
      staging.end();
      throw error;
    }
    const now = this.clock.now();
    const checkpoint = this.checkpoints.get(name) ?? { name, position: null, leaseOwner: null, leaseUntil: null, lastError: null, updatedAt: now };
    checkpoint.position = result.position;
    checkpoint.lastError = null;
    checkpoint.updatedAt = now;
    this.checkpoints.set(name, checkpoint);
    const parked = new Map<string, ParkedEvent>();
    for (const event of result.park) parked.set(event.eventId, copyParked(event, name));
    this.parkedEvents.set(name, parked);
    staging.commit();
    return result;
  }

  /**
   * On the unit of work of a step or rebuild of this store, the changes `work` registered with
   * `onCommit` are dropped when it throws (a savepoint); on another unit of work it runs as is.
   */
  async nested<T>(tx: InMemoryTransaction, work: () => Promise<T>): Promise<T> {
    if (!(tx instanceof Staging)) return work();
    const mark = tx.mark();
    try {
      return await work();
    } catch (error) {
      tx.rollbackTo(mark);
      throw error;
    }
  }

  async delete(name: string): Promise<void> {
    this.checkpoints.delete(name);
    this.parkedEvents.delete(name);
  }

  private fence(step: CheckpointAdvance): void {
    const checkpoint = this.checkpoints.get(step.name);
    if (!checkpoint || checkpoint.leaseOwner !== step.owner || checkpoint.position !== step.from) {
      throw new CheckpointLeaseLostError(step.name, step.owner);
    }
  }

  private parkedOf(name: string): Map<string, ParkedEvent> {
    let parked = this.parkedEvents.get(name);
    if (!parked) {
      parked = new Map();
      this.parkedEvents.set(name, parked);
    }
    return parked;
  }
}
