import { INVARIANTS_METADATA } from '../constants/metadata.constants.js';
import type { ClassType } from './class-type.js';

/**
 * Marks an aggregate method as an invariant, checked on the new state after a command's events
 * are applied and before anything is written. It throws a `DomainRuleViolation`, or returns a
 * message string when the state is invalid (anything else means valid).
 */
export function Invariant(): MethodDecorator {
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    Reflect.defineMetadata(INVARIANTS_METADATA, [...getInvariantsMetadata(owner), String(propertyKey)], owner);
  };
}

/** The `@Invariant` method names of an aggregate class. */
export function getInvariantsMetadata(target: ClassType): string[] {
  return (Reflect.getOwnMetadata(INVARIANTS_METADATA, target) as string[] | undefined) ?? [];
}
