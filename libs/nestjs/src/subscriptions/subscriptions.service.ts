import { Injectable } from '@nestjs/common';
import {
  Chronicle,
  ConfigurationError,
  projectionSubscriptionName,
  sagaSubscriptionName,
  type ProjectionHandler,
  type SagaEngine,
  type SubscriptionRunner,
} from '@chronicle/core';

/** A projection as this instance runs it. */
export interface RunningProjection {
  handler: ProjectionHandler<unknown>;
  runner: SubscriptionRunner<unknown>;
}

/** A saga as this instance runs it. */
export interface RunningSaga {
  engine: SagaEngine<unknown>;
  runner: SubscriptionRunner<unknown>;
}

/**
 * This instance's `@Projection` and `@Saga` subscriptions and saga deadlines, as the Chronicle
 * runtime runs them: a runner per subscription (one active across instances, through the
 * checkpoint lease), woken after every local commit and by the storage's notifications (PostgreSQL
 * LISTEN, one connection shared with the relay), polled as the fallback; a deadline runner; a job
 * pruning saga tombstones. Sagas dispatch their commands through the CommandBus (the gateway
 * without `@nestjs/cqrs`). The runners exist once the application has started.
 */
@Injectable()
export class SubscriptionsService {
  constructor(private readonly chronicle: Chronicle) {}

  /** Every runner of this instance (active or standby). */
  runners(): SubscriptionRunner<unknown>[] {
    return [...this.chronicle.subscriptions.values()];
  }

  /** The projection named `name`, or a `ConfigurationError` naming the known ones. */
  projection(name: string): RunningProjection {
    const handler = this.chronicle.projections.get(name);
    const runner = this.chronicle.subscriptions.get(projectionSubscriptionName(name));
    if (!handler || !runner) {
      throw new ConfigurationError(`No projection "${name}"; known: ${[...this.chronicle.projections.keys()].join(', ') || 'none'}.`);
    }
    return { handler, runner };
  }

  /** The saga named `name`, or a `ConfigurationError` naming the known ones. */
  saga(name: string): RunningSaga {
    const engine = this.chronicle.sagas.get(name);
    const runner = this.chronicle.subscriptions.get(sagaSubscriptionName(name));
    if (!engine || !runner) throw new ConfigurationError(`No saga "${name}"; known: ${[...this.chronicle.sagas.keys()].join(', ') || 'none'}.`);
    return { engine, runner };
  }

  /** The runner of a subscription name (`projection:<name>` or `saga:<name>`). */
  runner(subscription: string): SubscriptionRunner<unknown> {
    const found = this.chronicle.subscriptions.get(subscription);
    if (!found) {
      throw new ConfigurationError(`No subscription "${subscription}"; known: ${this.runners().map((r) => r.name).join(', ') || 'none'}.`);
    }
    return found;
  }

  /**
   * Drains every subscription and fires due deadlines now (tests and tools use it instead of
   * waiting for a poll); the runtime's outbox handlers are drained too. Nothing runs in an instance
   * with `subscriptions: { run: false }`.
   */
  async flush(): Promise<void> {
    await this.chronicle.flush();
  }

  /** Fires the saga deadlines due now (0 in an instance that does not run subscriptions). */
  async fireDeadlines(): Promise<number> {
    const deadlines = this.chronicle.deadlines;
    return this.chronicle.state === 'running' && this.chronicle.options.subscriptions.run && deadlines ? deadlines.runOnce() : 0;
  }
}
