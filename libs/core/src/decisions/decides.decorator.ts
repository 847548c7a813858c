import { DECIDES_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { AggregateIdSource } from '../aggregates/aggregate-id-source.js';
import type { ClassType } from '../aggregates/class-type.js';
import type { EventQuery } from '../ports/journal.port.js';

/** Options of `@Decides`. */
export interface DecidesOptions<C = never> {
  /**
   * Tags computed from the command: the decision's query is then one item, the event types of the
   * handler's `@Evolves` methods carrying all of these tags. Give `tags` or `query`, not both;
   * with neither, the query is the `@Evolves` types alone (every event of those types).
   */
  tags?: (command: C) => readonly string[];
  /** The whole query, computed from the command, when one item does not say it. */
  query?: (command: C) => EventQuery;
  /**
   * The aggregate whose stream the events join (its stream id and type). Without it the events
   * go to the stream `<decision name>-<id>`.
   */
  aggregate?: ClassType;
  /** Where the command carries the id of that stream. @default 'aggregateId' */
  id?: AggregateIdSource;
  /**
   * The stream must not exist yet (`AggregateAlreadyExistsError` otherwise). Without it the events
   * are appended at the stream's end, whether it exists or not.
   * @default false
   */
  creates?: boolean;
}

/** One `@Decides` declaration. */
export interface DecidesMetadata {
  commandClass: ClassType;
  method: string;
  options: DecidesOptions;
}

/**
 * Marks a decision handler's method as the handler of a command: `(command, state, context)`
 * returns the new events (one, an array, or none) or throws a `DomainRuleViolation`. Their tags
 * come from their `@Event({ tags })` (and the command metadata's `tags`).
 */
export function Decides<C>(commandClass: ClassType<C & object>, options: DecidesOptions<C> = {}): MethodDecorator {
  if (typeof commandClass !== 'function') {
    throw new ConfigurationError(`@Decides needs a command class, got ${String(commandClass)}.`);
  }
  if (options.tags !== undefined && options.query !== undefined) {
    throw new ConfigurationError(`@Decides(${commandClass.name}) gives both tags and query: give one (tags for one item of the @Evolves types, query for any query).`);
  }
  for (const key of ['tags', 'query'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw new ConfigurationError(`@Decides(${commandClass.name}) ${key} must be a function of the command.`);
    }
  }
  return (target, propertyKey) => {
    const owner = target.constructor as ClassType;
    const method = String(propertyKey);
    const declared = getDecidesMetadata(owner);
    const clash = declared.find((d) => d.commandClass === commandClass);
    if (clash) {
      throw new ConfigurationError(`${owner.name} decides ${commandClass.name} twice: in ${clash.method}() and in ${method}().`);
    }
    Reflect.defineMetadata(DECIDES_METADATA, [...declared, { commandClass, method, options: options as DecidesOptions }], owner);
  };
}

/** The `@Decides` declarations of a decision handler class. */
export function getDecidesMetadata(target: ClassType): DecidesMetadata[] {
  return (Reflect.getOwnMetadata(DECIDES_METADATA, target) as DecidesMetadata[] | undefined) ?? [];
}
