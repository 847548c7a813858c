import { COMMAND_HANDLERS_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { AggregateIdSource } from './aggregate-id-source.js';
import type { ClassType } from './class-type.js';

/** Options of `@Handles`. */
export interface HandlesOptions {
  /**
   * Whether the handler creates the aggregate: it then runs only on a stream that has never been
   * written, and every other handler only on one that has.
   * @default false
   */
  creates?: boolean;
  /** Where this command carries the target id. @default the aggregate's `id` option */
  id?: AggregateIdSource;
}

/** One `@Handles` declaration. */
export interface CommandHandlerMetadata {
  commandClass: ClassType;
  method: string;
  creates: boolean;
  id?: AggregateIdSource;
}

/**
 * Marks an aggregate method as the handler of a command. It returns the new events (one, an
 * array, or none) or throws a `DomainRuleViolation`; it must not change the aggregate's state
 * (that is what `@Applies` methods do).
 */
export function Handles(commandClass: ClassType, options: HandlesOptions = {}): MethodDecorator {
  if (typeof commandClass !== 'function') {
    throw new ConfigurationError(`@Handles needs a command class, got ${String(commandClass)}.`);
  }
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const method = String(propertyKey);
    const handlers = getCommandHandlersMetadata(owner);
    const clash = handlers.find((h) => h.commandClass === commandClass);
    if (clash) {
      throw new ConfigurationError(
        `${owner.name} handles ${commandClass.name} twice: in ${clash.method}() and in ${method}().`,
      );
    }
    Reflect.defineMetadata(
      COMMAND_HANDLERS_METADATA,
      [...handlers, { commandClass, method, creates: options.creates ?? false, id: options.id }],
      owner,
    );
  };
}

/** The `@Handles` declarations of an aggregate class. */
export function getCommandHandlersMetadata(target: ClassType): CommandHandlerMetadata[] {
  return (Reflect.getOwnMetadata(COMMAND_HANDLERS_METADATA, target) as CommandHandlerMetadata[] | undefined) ?? [];
}
