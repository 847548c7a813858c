import { SAGA_HANDLERS_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { getEventMetadata } from '../events/event.decorator.js';
import type { ClassType } from '../aggregates/class-type.js';

/** Where an event carries the association value: a property name, or a function of the event. */
export type SagaAssociation<E extends object = object> = string | ((event: E) => string | undefined);

/** One `@StartsSaga` or `@SagaHandler` declaration. */
export interface SagaHandlerMetadata {
  eventClass: ClassType;
  type: string;
  method: string;
  associate: SagaAssociation;
  starts: boolean;
}

function declare(kind: '@StartsSaga' | '@SagaHandler', eventClass: ClassType, associate: SagaAssociation | undefined): MethodDecorator {
  const type = typeof eventClass === 'function' ? getEventMetadata(eventClass)?.type : undefined;
  if (type === undefined) {
    throw new ConfigurationError(`${kind} needs an @Event class, got ${String((eventClass as { name?: string } | undefined)?.name ?? eventClass)}.`);
  }
  if (typeof associate !== 'string' && typeof associate !== 'function') {
    throw new ConfigurationError(`${kind}(${eventClass.name}) needs { associate }: the event property (or a function) giving the correlation id.`);
  }
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const method = String(propertyKey);
    const starts = kind === '@StartsSaga';
    const handlers = getSagaHandlersMetadata(owner);
    const clash = handlers.find((handler) => handler.type === type && handler.starts === starts);
    if (clash) throw new ConfigurationError(`${owner.name} has two ${kind} for ${eventClass.name}: ${clash.method}() and ${method}().`);
    Reflect.defineMetadata(SAGA_HANDLERS_METADATA, [...handlers, { eventClass, type, method, associate, starts }], owner);
  };
}

/**
 * Starts a saga instance on an event: `(event, ctx: SagaContext<State>)`. The association value is
 * the new instance's correlation id; a start event for an instance that exists (running or
 * finished) does nothing, so a redelivered start cannot start it twice.
 */
export function StartsSaga<E extends object>(eventClass: ClassType<E>, options: { associate: SagaAssociation<E> }): MethodDecorator {
  return declare('@StartsSaga', eventClass, options?.associate as SagaAssociation | undefined);
}

/** Handles an event for the running instance its association value names; other events pass by. */
export function SagaHandler<E extends object>(eventClass: ClassType<E>, options: { associate: SagaAssociation<E> }): MethodDecorator {
  return declare('@SagaHandler', eventClass, options?.associate as SagaAssociation | undefined);
}

/** The `@StartsSaga` and `@SagaHandler` declarations of a saga class. */
export function getSagaHandlersMetadata(target: ClassType): SagaHandlerMetadata[] {
  return (Reflect.getOwnMetadata(SAGA_HANDLERS_METADATA, target) as SagaHandlerMetadata[] | undefined) ?? [];
}
