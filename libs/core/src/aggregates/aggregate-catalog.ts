import { ConfigurationError } from '../errors/configuration.error.js';
import { UnknownCommandError } from '../errors/unknown-command.error.js';
import { EventRegistry } from '../events/event-registry.js';
import { DecisionDefinition } from '../decisions/decision-definition.js';
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
  private readonly decisionsByCommand = new Map<ClassType, DecisionDefinition>();
  private readonly decisionsByName = new Map<string, DecisionDefinition>();

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
      for (const commandClass of definition.handlers.keys()) this.refuseHandled(commandClass, aggregateClass.name);
      this.events.register(...definition.eventClasses);
      this.byName.set(definition.name, definition);
      this.byClass.set(aggregateClass, definition);
      for (const commandClass of definition.handlers.keys()) this.byCommand.set(commandClass, definition);
    }
    this.events.register(...extraEvents);
    return this;
  }

  /**
   * Adds decision handler instances (`@DecisionHandler`): their commands must be handled by no
   * aggregate and no other decision, the aggregates they write to must be registered first.
   */
  addDecisions(instances: readonly object[]): this {
    for (const instance of instances) {
      const definition = new DecisionDefinition(instance, (aggregateClass) => this.forClass(aggregateClass));
      const sameName = this.decisionsByName.get(definition.name);
      if (sameName) {
        if (sameName.instance === instance) continue;
        throw new ConfigurationError(
          `Decision handler name "${definition.name}" is used twice: by ${sameName.handlerClass.name} and by ${definition.handlerClass.name}.`,
        );
      }
      for (const commandClass of definition.decisions.keys()) this.refuseHandled(commandClass, definition.handlerClass.name);
      this.events.register(...definition.eventClasses);
      this.decisionsByName.set(definition.name, definition);
      for (const commandClass of definition.decisions.keys()) this.decisionsByCommand.set(commandClass, definition);
    }
    return this;
  }

  /** The decision handler of a command, or undefined when an aggregate (or nothing) handles it. */
  decisionFor(command: object): DecisionDefinition | undefined {
    return this.decisionsByCommand.get(command.constructor as ClassType);
  }

  /** Every registered decision handler. */
  decisions(): DecisionDefinition[] {
    return [...this.decisionsByName.values()];
  }

  private refuseHandled(commandClass: ClassType, by: string): void {
    const other = this.byCommand.get(commandClass)?.aggregateClass.name ?? this.decisionsByCommand.get(commandClass)?.handlerClass.name;
    if (other !== undefined) throw new ConfigurationError(`Command ${commandClass.name} is handled twice: by ${other} and by ${by}.`);
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

  /** Every command class some aggregate or decision handler handles. */
  commandClasses(): ClassType[] {
    return [...this.byCommand.keys(), ...this.decisionsByCommand.keys()];
  }

  /** Every registered aggregate. */
  definitions(): AggregateDefinition[] {
    return [...this.byName.values()];
  }
}
