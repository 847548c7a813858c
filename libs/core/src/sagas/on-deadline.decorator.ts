import { SAGA_DEADLINE_HANDLERS_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from '../aggregates/class-type.js';

/** One `@OnDeadline` declaration. */
export interface SagaDeadlineHandlerMetadata {
  name: string;
  method: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Handles a deadline the saga scheduled with `ctx.schedule(name, ...)`: `(deadline: SagaDeadline,
 * ctx: SagaContext<State>)`. Deadlines are stored, so they fire after a restart too.
 */
export function OnDeadline(name: string): MethodDecorator {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ConfigurationError(`@OnDeadline name ${JSON.stringify(name)} is invalid: use 1–64 letters, digits and . _ -.`);
  }
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const handlers = getSagaDeadlineHandlersMetadata(owner);
    const clash = handlers.find((handler) => handler.name === name);
    if (clash) throw new ConfigurationError(`${owner.name} handles deadline "${name}" twice: ${clash.method}() and ${String(propertyKey)}().`);
    Reflect.defineMetadata(SAGA_DEADLINE_HANDLERS_METADATA, [...handlers, { name, method: String(propertyKey) }], owner);
  };
}

/** The `@OnDeadline` declarations of a saga class. */
export function getSagaDeadlineHandlersMetadata(target: ClassType): SagaDeadlineHandlerMetadata[] {
  return (Reflect.getOwnMetadata(SAGA_DEADLINE_HANDLERS_METADATA, target) as SagaDeadlineHandlerMetadata[] | undefined) ?? [];
}
