import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from '../aggregates/class-type.js';
import type { SubscriptionDelivery, SubscriptionHandler, TransactionalWork } from '../subscriptions/subscription-handler.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { getProjectionHandlersMetadata, type ProjectionHandlerMetadata } from './on.decorator.js';
import { getProjectionBatchHandlerMetadata } from './on-batch.decorator.js';
import { getProjectionMetadata, type ProjectionOptions } from './projection.decorator.js';
import type { ProjectionBatchContext, ProjectionBatchEvent, ProjectionContext, RebuildableProjection } from './projection-context.js';

/** The checkpoint name of a projection. */
export function projectionSubscriptionName(name: string): string {
  return `projection:${name}`;
}

type HandlerMethod = (event: object, ctx: ProjectionContext<unknown>) => unknown;
type BatchMethod = (events: ProjectionBatchEvent[], ctx: ProjectionBatchContext<unknown>) => unknown;

/**
 * Adapts a `@Projection` instance to a subscription handler: `exactly-once` handlers run inside
 * the checkpoint's transaction, `at-least-once` handlers before it. A projection with an
 * `@OnBatch` method gets each chunk in one call (`handleBatch`), and single events (`handle`,
 * the runner's one-at-a-time fallback and re-drives) as batches of one.
 */
export class ProjectionHandler<Tx = unknown> implements SubscriptionHandler<Tx> {
  readonly options: ProjectionOptions;
  readonly types: ReadonlySet<string>;
  /** Present for a projection with an `@OnBatch` method. */
  readonly handleBatch?: (deliveries: readonly SubscriptionDelivery[]) => Promise<TransactionalWork<Tx> | void>;
  private readonly methods = new Map<string, ProjectionHandlerMetadata>();
  private readonly batchMethod: BatchMethod | undefined;

  constructor(readonly instance: object) {
    const type = instance.constructor as ClassType;
    const options = getProjectionMetadata(type);
    if (!options) throw new ConfigurationError(`${type.name} is not a @Projection class.`);
    this.options = options;
    const handlers = getProjectionHandlersMetadata(type);
    const batch = getProjectionBatchHandlerMetadata(type);
    if (batch) {
      if (handlers.length > 0) {
        throw new ConfigurationError(
          `@Projection('${options.name}') on ${type.name} has both @OnBatch (${batch.method}()) and @On (${handlers[0]!.method}()): use one or the other.`,
        );
      }
      const method = (instance as Record<string, unknown>)[batch.method];
      if (typeof method !== 'function') throw new ConfigurationError(`@OnBatch on ${type.name}.${batch.method} is not a method.`);
      this.batchMethod = (method as BatchMethod).bind(instance);
      this.types = new Set(batch.types);
      this.handleBatch = (deliveries) => this.runBatch(deliveries);
      return;
    }
    if (handlers.length === 0) throw new ConfigurationError(`@Projection('${options.name}') on ${type.name} has no @On or @OnBatch handler.`);
    for (const handler of handlers) {
      if (typeof (instance as Record<string, unknown>)[handler.method] !== 'function') {
        throw new ConfigurationError(`@On(${handler.eventClass.name}) on ${type.name}.${handler.method} is not a method.`);
      }
      this.methods.set(handler.type, handler);
    }
    this.types = new Set(this.methods.keys());
  }

  get name(): string {
    return this.options.name;
  }

  get rebuildable(): boolean {
    return typeof (this.instance as Partial<RebuildableProjection>).clear === 'function';
  }

  /** Empties the read model inside a rebuild's transaction. */
  clear(tx: Tx): Promise<void> {
    if (!this.rebuildable) {
      throw new ConfigurationError(
        `Projection "${this.name}" (${this.instance.constructor.name}) cannot be rebuilt: implement clear(tx) to empty its read model.`,
      );
    }
    return (this.instance as RebuildableProjection<Tx>).clear(tx);
  }

  async handle(event: object, envelope: RecordedEvent): Promise<TransactionalWork<Tx> | void> {
    if (this.batchMethod) return this.runBatch([{ event, envelope }]);
    const handler = this.methods.get(envelope.type);
    if (!handler) return;
    const method = (this.instance as Record<string, HandlerMethod>)[handler.method]!.bind(this.instance);
    if (this.options.delivery === 'at-least-once') {
      await method(event, { tx: undefined, eventId: envelope.eventId, envelope });
      return;
    }
    return async (tx: Tx) => {
      await method(event, { tx, eventId: envelope.eventId, envelope });
    };
  }

  private async runBatch(deliveries: readonly SubscriptionDelivery[]): Promise<TransactionalWork<Tx> | void> {
    const method = this.batchMethod!;
    // A copy: the method may keep or reorder what it is given.
    const events: ProjectionBatchEvent[] = deliveries.map(({ event, envelope }) => ({ event, envelope }));
    if (this.options.delivery === 'at-least-once') {
      await method(events, { tx: undefined });
      return;
    }
    return async (tx: Tx) => {
      await method(events, { tx });
    };
  }
}
