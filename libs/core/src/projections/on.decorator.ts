import { PROJECTION_HANDLERS_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { getEventMetadata } from '../events/event.decorator.js';
import type { ClassType } from '../aggregates/class-type.js';

/** One `@On` declaration. */
export interface ProjectionHandlerMetadata {
  eventClass: ClassType;
  /** The event's type name. */
  type: string;
  method: string;
}

/**
 * Marks a projection method as the handler of one event class: `(event, ctx: ProjectionContext)`.
 * One handler per event class and projection.
 */
export function On(eventClass: ClassType): MethodDecorator {
  const type = typeof eventClass === 'function' ? getEventMetadata(eventClass)?.type : undefined;
  if (type === undefined) {
    throw new ConfigurationError(`@On needs an @Event class, got ${String((eventClass as { name?: string } | undefined)?.name ?? eventClass)}.`);
  }
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const method = String(propertyKey);
    const handlers = getProjectionHandlersMetadata(owner);
    const clash = handlers.find((handler) => handler.type === type);
    if (clash) throw new ConfigurationError(`${owner.name} handles ${eventClass.name} twice: in ${clash.method}() and in ${method}().`);
    Reflect.defineMetadata(PROJECTION_HANDLERS_METADATA, [...handlers, { eventClass, type, method }], owner);
  };
}

/** The `@On` declarations of a projection class. */
export function getProjectionHandlersMetadata(target: ClassType): ProjectionHandlerMetadata[] {
  return (Reflect.getOwnMetadata(PROJECTION_HANDLERS_METADATA, target) as ProjectionHandlerMetadata[] | undefined) ?? [];
}
