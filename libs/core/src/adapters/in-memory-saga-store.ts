import { SagaConcurrencyError } from '../errors/saga-concurrency.error.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import type { JsonValue } from '../events/json.js';
import { checkIntegerArgument } from '../ports/integer-argument.js';
import type { ListSagasOptions, OverdueDeadlines, SagaChange, SagaDeadline, SagaInstance, SagaStore } from '../ports/saga-store.port.js';
import { checkSagaChange } from '../sagas/saga-change-checks.js';
import { compareCodePoints } from './code-point-order.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';

interface StoredDeadline extends SagaDeadline {
  firedAt: Date | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
}

function key(sagaName: string, correlationId: string): string {
  return `${sagaName}\u0000${correlationId}`;
}

function copyInstance(instance: SagaInstance): SagaInstance {
  return {
    ...instance,
    state: JSON.parse(JSON.stringify(instance.state)) as JsonValue,
    startedAt: new Date(instance.startedAt),
    updatedAt: new Date(instance.updatedAt),
    endedAt: instance.endedAt && new Date(instance.endedAt),
  };
}

function copyDeadline(deadline: StoredDeadline): SagaDeadline {
  return {
    id: deadline.id,
    sagaName: deadline.sagaName,
    correlationId: deadline.correlationId,
    name: deadline.name,
    dueAt: new Date(deadline.dueAt),
    payload: deadline.payload,
    attempts: deadline.attempts,
    lastError: deadline.lastError,
    parkedAt: deadline.parkedAt ?? null,
  };
}

/**
 * Saga instances and deadlines in memory, for unit tests and the test kit. Inside a unit of work
 * (`tx`), the change is checked at once and applied when the unit commits.
 */
export class InMemorySagaStore implements SagaStore<InMemoryTransaction> {
  private readonly instances = new Map<string, SagaInstance>();
  private readonly deadlineRows = new Map<string, StoredDeadline>();

  constructor(private readonly clock: Clock = systemClock) {}

  async load(sagaName: string, correlationId: string): Promise<SagaInstance | undefined> {
    const instance = this.instances.get(key(sagaName, correlationId));
    return instance && copyInstance(instance);
  }

  /** {@inheritDoc SagaStore.saveAll} One `save` after another, inside `tx`; an instance twice is a conflict. */
  async saveAll(changes: readonly SagaChange[], tx: InMemoryTransaction): Promise<void> {
    const seen = new Set<string>();
    for (const change of changes) {
      const { sagaName, correlationId } = change.instance;
      // `save` inside a transaction checks the committed version: the second change of one instance would pass it.
      if (seen.has(key(sagaName, correlationId))) throw new SagaConcurrencyError(sagaName, correlationId, change.expectedVersion);
      seen.add(key(sagaName, correlationId));
      await this.save(change, tx);
    }
  }

  async save(change: SagaChange, tx?: InMemoryTransaction): Promise<void> {
    checkSagaChange(change);
    const { instance } = change;
    const current = this.instances.get(key(instance.sagaName, instance.correlationId));
    if ((current?.version ?? 0) !== change.expectedVersion) {
      throw new SagaConcurrencyError(instance.sagaName, instance.correlationId, change.expectedVersion);
    }
    if (change.fired) {
      const deadline = this.deadlineRows.get(change.fired.id);
      if (!deadline || deadline.firedAt || deadline.leaseOwner !== change.fired.owner) {
        throw new SagaConcurrencyError(instance.sagaName, instance.correlationId, change.expectedVersion);
      }
    }
    const apply = (): void => {
      const now = this.clock.now();
      this.instances.set(key(instance.sagaName, instance.correlationId), copyInstance(instance));
      if (change.fired) {
        const deadline = this.deadlineRows.get(change.fired.id);
        if (deadline) deadline.firedAt = now;
      }
      for (const name of change.cancel ?? []) {
        for (const deadline of this.deadlineRows.values()) {
          if (deadline.sagaName !== instance.sagaName || deadline.correlationId !== instance.correlationId) continue;
          if ((name === '*' || deadline.name === name) && !deadline.firedAt) deadline.firedAt = now;
        }
      }
      for (const deadline of change.schedule ?? []) {
        this.deadlineRows.set(deadline.id, { ...deadline, attempts: 0, lastError: null, parkedAt: null, firedAt: null, leaseOwner: null, leaseUntil: null });
      }
    };
    if (tx) tx.onCommit(apply);
    else apply();
  }

  async delete(sagaName: string, correlationId: string): Promise<void> {
    this.instances.delete(key(sagaName, correlationId));
    for (const [id, deadline] of this.deadlineRows) {
      if (deadline.sagaName === sagaName && deadline.correlationId === correlationId) this.deadlineRows.delete(id);
    }
  }

  async list(sagaName: string, options: ListSagasOptions = {}): Promise<SagaInstance[]> {
    const limit = checkIntegerArgument('limit', options.limit ?? 100, 0);
    return [...this.instances.values()]
      .filter((instance) => instance.sagaName === sagaName)
      .filter((instance) => options.status === undefined || instance.status === options.status)
      .filter((instance) => options.after === undefined || compareCodePoints(instance.correlationId, options.after) > 0)
      .sort((a, b) => compareCodePoints(a.correlationId, b.correlationId))
      .slice(0, limit)
      .map(copyInstance);
  }

  async claimDue(owner: string, leaseMs: number, limit: number): Promise<SagaDeadline[]> {
    checkIntegerArgument('leaseMs', leaseMs, 1);
    checkIntegerArgument('limit', limit, 0);
    const now = this.clock.now();
    const due = [...this.deadlineRows.values()]
      .filter((d) => !d.firedAt && !d.parkedAt && d.dueAt <= now && (!d.leaseUntil || d.leaseUntil <= now || d.leaseOwner === owner))
      .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || compareCodePoints(a.id, b.id))
      .slice(0, limit);
    for (const deadline of due) {
      deadline.leaseOwner = owner;
      deadline.leaseUntil = new Date(now.getTime() + leaseMs);
    }
    return due.map(copyDeadline);
  }

  async releaseDeadline(id: string, owner: string, error: string, retryAt: Date | null): Promise<void> {
    const deadline = this.deadlineRows.get(id);
    if (!deadline || deadline.leaseOwner !== owner || deadline.firedAt) return;
    deadline.attempts += 1;
    deadline.lastError = error;
    deadline.leaseOwner = null;
    deadline.leaseUntil = null;
    if (retryAt) deadline.dueAt = new Date(retryAt);
    else deadline.parkedAt = this.clock.now();
  }

  async dropDeadline(id: string, owner: string): Promise<void> {
    const deadline = this.deadlineRows.get(id);
    if (deadline && deadline.leaseOwner === owner && !deadline.firedAt) deadline.firedAt = this.clock.now();
  }

  async deadlines(sagaName: string, correlationId: string): Promise<SagaDeadline[]> {
    return [...this.deadlineRows.values()]
      .filter((d) => d.sagaName === sagaName && d.correlationId === correlationId && !d.firedAt)
      .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || compareCodePoints(a.id, b.id))
      .map(copyDeadline);
  }

  async overdueDeadlines(): Promise<OverdueDeadlines[]> {
    const now = this.clock.now();
    const counts = new Map<string, number>();
    for (const d of this.deadlineRows.values()) {
      if (!d.firedAt && !d.parkedAt && d.dueAt <= now) counts.set(d.sagaName, (counts.get(d.sagaName) ?? 0) + 1);
    }
    return [...counts]
      .sort(([a], [b]) => compareCodePoints(a, b))
      .map(([sagaName, count]) => ({ sagaName, count }));
  }

  async pruneCompleted(before: Date): Promise<number> {
    let count = 0;
    for (const [id, instance] of this.instances) {
      if (instance.status === 'completed' && instance.endedAt && instance.endedAt < before) {
        this.instances.delete(id);
        count += 1;
      }
    }
    for (const [id, deadline] of this.deadlineRows) if (deadline.firedAt && deadline.firedAt < before) this.deadlineRows.delete(id);
    return count;
  }
}
