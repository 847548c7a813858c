import { PROJECTION_BATCH_HANDLER_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { getEventMetadata } from '../events/event.decorator.js';
import type { ClassType } from '../aggregates/class-type.js';

/** The `@OnBatch` declaration of a projection. */
export interface ProjectionBatchHandlerMetadata {
  /** The `@Event` classes listed. */
  eventClasses: ClassType[];
  /** The event type names it handles. */
  types: string[];
  /** The decorated method's name. */
  method: string;
}

/**
 * Marks the one method of a projection that handles its events a batch at a time:
 * `(events: ProjectionBatchEvent[], ctx: ProjectionBatchContext)`, with the events of the listed
 * classes of one checkpoint transaction (up to 500, in feed order). A read model can then write
 * the batch in a few multi-row statements through `ctx.tx`; the writes commit with the checkpoint
 * (exactly once). When the call fails, its batch is redone one event at a time (the method gets a
 * batch of one), so a failing event is found, retried and parked alone. A projection has either
 * one `@OnBatch` method or `@On` methods, not both.
 */
export function OnBatch(...eventClasses: ClassType[]): MethodDecorator {
  if (eventClasses.length === 0) throw new ConfigurationError('@OnBatch needs at least one @Event class.');
  const types = eventClasses.map((eventClass) => {
    const type = typeof eventClass === 'function' ? getEventMetadata(eventClass)?.type : undefined;
    if (type === undefined) {
      throw new ConfigurationError(`@OnBatch needs @Event classes, got ${String((eventClass as { name?: string } | undefined)?.name ?? eventClass)}.`);
    }
    return type;
  });
  const duplicate = types.find((type, index) => types.indexOf(type) !== index);
  if (duplicate !== undefined) throw new ConfigurationError(`@OnBatch lists the event type "${duplicate}" twice.`);
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const method = String(propertyKey);
    const existing = getProjectionBatchHandlerMetadata(owner);
    if (existing) throw new ConfigurationError(`${owner.name} has two @OnBatch methods, ${existing.method}() and ${method}(): a projection has one.`);
    Reflect.defineMetadata(PROJECTION_BATCH_HANDLER_METADATA, { eventClasses, types, method }, owner);
  };
}

/** The `@OnBatch` declaration of a projection class, if any. */
export function getProjectionBatchHandlerMetadata(target: ClassType): ProjectionBatchHandlerMetadata | undefined {
  return Reflect.getOwnMetadata(PROJECTION_BATCH_HANDLER_METADATA, target) as ProjectionBatchHandlerMetadata | undefined;
}
