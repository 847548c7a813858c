import { ConfigurationError } from '../errors/configuration.error.js';
import { UnknownCommandError } from '../errors/unknown-command.error.js';
import { EventRegistry } from '../events/event-registry.js';
import { AggregateDefinition } from './aggregate-definition.js';
import type { ClassType } from './class-type.js';

/**
 * Every aggregate of an application, compiled and cross-checked: one aggregate per name, one
 * handler per command, one class per event type. Misconfiguration fails here, at start-up.
 */
export class AggregateCatalog {
  readonly events = new EventRegistry();
  private readonly byName = new Map<string, AggregateDefinition>();
  private readonly byClass = new Map<ClassType, AggregateDefinition>();
  private readonly byCommand = new Map<ClassType, AggregateDefinition>();

  constructor(aggregateClasses: readonly ClassType[] = [], extraEvents: readonly ClassType[] = []) {
    this.add(aggregateClasses, extraEvents);
  }

  /** Adds aggregates (and stand-alone event classes); adding a class twice is harmless. */
  add(aggregateClasses: readonly ClassType[], extraEvents: readonly ClassType[] = []): this {
    for (const aggregateClass of aggregateClasses) {
      if (this.byClass.has(aggregateClass)) continue;
      const definition = new AggregateDefinition(aggregateClass);
      const sameName = this.byName.get(definition.name);
      if (sameName) {
        throw new ConfigurationError(
          `Aggregate name "${definition.name}" is used twice: by ${sameName.aggregateClass.name} and by ${aggregateClass.name}.`,
        );
      }
      for (const commandClass of definition.handlers.keys()) {
        const other = this.byCommand.get(commandClass);
        if (other) {
          throw new ConfigurationError(
            `Command ${commandClass.name} is handled twice: by ${other.aggregateClass.name} and by ${aggregateClass.name}.`,
          );
        }
      }
      this.events.register(...definition.eventClasses);
      this.byName.set(definition.name, definition);
      this.byClass.set(aggregateClass, definition);
      for (const commandClass of definition.handlers.keys()) this.byCommand.set(commandClass, definition);
    }
    this.events.register(...extraEvents);
    return this;
  }

  /** The aggregate that handles a command; throws `UnknownCommandError`. */
  forCommand(command: object): AggregateDefinition {
    const definition = this.byCommand.get(command.constructor as ClassType);
    if (!definition) throw new UnknownCommandError(command.constructor.name);
    return definition;
  }

  /** The definition of an aggregate class; throws `ConfigurationError` for an unregistered one. */
  forClass<T extends object>(aggregateClass: ClassType<T>): AggregateDefinition<T> {
    const definition = this.byClass.get(aggregateClass);
    if (!definition) {
      throw new ConfigurationError(`${aggregateClass.name} is not a registered aggregate; list it in EventSourcingModule.`);
    }
    return definition as unknown as AggregateDefinition<T>;
  }

  /** The definition registered under an aggregate name, if any. */
  forName(name: string): AggregateDefinition | undefined {
    return this.byName.get(name);
  }

  /** Every command class some aggregate handles. */
  commandClasses(): ClassType[] {
    return [...this.byCommand.keys()];
  }

  /** Every registered aggregate. */
  definitions(): AggregateDefinition[] {
    return [...this.byName.values()];
  }
}
