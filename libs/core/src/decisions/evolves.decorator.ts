import { EVOLVES_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from '../aggregates/class-type.js';

/** One `@Evolves` declaration. */
export interface EvolverMetadata {
  eventClass: ClassType;
  method: string;
}

/**
 * Marks a decision handler's method as the way an event changes the decision's state:
 * `(state, event) => state`, or `(state, event) => void` after changing `state` in place. The
 * event types of the `@Evolves` methods are the types of the decision's query (for `@Decides`
 * with `tags`). It runs on every read and on the handler's own new events, so it must not throw
 * or look outside its arguments: a folded state is kept and only later events are folded onto it.
 */
export function Evolves(eventClass: ClassType): MethodDecorator {
  if (typeof eventClass !== 'function') {
    throw new ConfigurationError(`@Evolves needs an event class, got ${String(eventClass)}.`);
  }
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const method = String(propertyKey);
    const evolvers = getEvolversMetadata(owner);
    const clash = evolvers.find((e) => e.eventClass === eventClass);
    if (clash) {
      throw new ConfigurationError(`${owner.name} evolves ${eventClass.name} twice: in ${clash.method}() and in ${method}().`);
    }
    Reflect.defineMetadata(EVOLVES_METADATA, [...evolvers, { eventClass, method }], owner);
  };
}

/** The `@Evolves` declarations of a decision handler class. */
export function getEvolversMetadata(target: ClassType): EvolverMetadata[] {
  return (Reflect.getOwnMetadata(EVOLVES_METADATA, target) as EvolverMetadata[] | undefined) ?? [];
}
