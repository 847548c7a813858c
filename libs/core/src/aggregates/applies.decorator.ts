import { EVENT_APPLIERS_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from './class-type.js';

/** One `@Applies` declaration. */
export interface EventApplierMetadata {
  eventClass: ClassType;
  method: string;
}

/**
 * Marks an aggregate method as the way an event changes its state. Appliers run when a command's
 * events are accepted and on every replay, so they must not throw or look outside the aggregate.
 */
export function Applies(eventClass: ClassType): MethodDecorator {
  if (typeof eventClass !== 'function') {
    throw new ConfigurationError(`@Applies needs an event class, got ${String(eventClass)}.`);
  }
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const method = String(propertyKey);
    const appliers = getEventAppliersMetadata(owner);
    const clash = appliers.find((a) => a.eventClass === eventClass);
    if (clash) {
      throw new ConfigurationError(`${owner.name} applies ${eventClass.name} twice: in ${clash.method}() and in ${method}().`);
    }
    Reflect.defineMetadata(EVENT_APPLIERS_METADATA, [...appliers, { eventClass, method }], owner);
  };
}

/** The `@Applies` declarations of an aggregate class. */
export function getEventAppliersMetadata(target: ClassType): EventApplierMetadata[] {
  return (Reflect.getOwnMetadata(EVENT_APPLIERS_METADATA, target) as EventApplierMetadata[] | undefined) ?? [];
}
