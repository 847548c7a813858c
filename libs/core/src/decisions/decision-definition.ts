import { readAggregateId, type AggregateIdSource } from '../aggregates/aggregate-id-source.js';
import type { AggregateDefinition } from '../aggregates/aggregate-definition.js';
import type { ClassType } from '../aggregates/class-type.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { InvalidArgumentError } from '../errors/invalid-argument.error.js';
import { InvalidCommandError } from '../errors/invalid-command.error.js';
import { getEventMetadata } from '../events/event.decorator.js';
import { checkEventQuery } from '../ports/event-query.js';
import type { EventQuery } from '../ports/journal.port.js';
import { getDecidesMetadata, type DecidesOptions } from './decides.decorator.js';
import { decisionHandlerEventClasses, getDecisionHandlerMetadata } from './decision-handler.decorator.js';
import { getEvolversMetadata } from './evolves.decorator.js';

/** What a decision handler receives besides the command and the state. */
export interface DecisionContext {
  /** The id of the stream the events go to. */
  streamId: string;
  /** That stream's version before the decision (0 for a new stream). */
  streamVersion: number;
  /** How many events matched the query (the events the state was folded from). */
  matched: number;
  /** The gateway's clock reading for this decision. */
  now: Date;
}

/** A resolved `@Decides` declaration. */
export interface ResolvedDecision {
  method: string;
  options: DecidesOptions;
  idSource: AggregateIdSource;
  /** The aggregate whose stream the events join, if any. */
  aggregate: AggregateDefinition | undefined;
}

type Method = (...args: unknown[]) => unknown;

/**
 * A decision handler instance compiled from its decorators: its queries, how to fold the matching
 * events into its state, and where its events go. Built once at start-up, so a mistake in the
 * decorators fails the boot, not a request.
 */
export class DecisionDefinition<S = unknown> {
  readonly name: string;
  readonly handlerClass: ClassType;
  readonly decisions = new Map<ClassType, ResolvedDecision>();
  /** Evolver method by event type name. */
  readonly evolvers = new Map<string, string>();
  /** The event types of the `@Evolves` methods, in declaration order. */
  readonly types: readonly string[];
  /** Every event class the handler folds or emits. */
  readonly eventClasses: readonly ClassType[];
  private readonly initial: () => S;

  constructor(
    readonly instance: object,
    aggregateFor: (aggregateClass: ClassType) => AggregateDefinition,
  ) {
    if (instance === null || typeof instance !== 'object') {
      throw new ConfigurationError(`A decision handler must be an instance of a @DecisionHandler class, got ${String(instance)}.`);
    }
    this.handlerClass = instance.constructor as ClassType;
    const options = getDecisionHandlerMetadata(this.handlerClass);
    if (!options) {
      throw new ConfigurationError(`${this.handlerClass.name} is listed as a decision handler but has no @DecisionHandler({ name, initialState }) decorator.`);
    }
    this.name = options.name;
    this.initial = options.initialState as () => S;
    const methods = instance as Record<string, unknown>;
    const requireMethod = (method: string, role: string): void => {
      if (typeof methods[method] !== 'function') {
        throw new ConfigurationError(`${this.handlerClass.name}.${method} is declared as ${role} but is not a method.`);
      }
    };
    for (const { eventClass, method } of getEvolversMetadata(this.handlerClass)) {
      requireMethod(method, `the @Evolves(${eventClass.name}) method`);
      const metadata = getEventMetadata(eventClass);
      if (!metadata) throw new ConfigurationError(`${this.handlerClass.name} evolves ${eventClass.name}, which has no @Event('type.name') decorator.`);
      this.evolvers.set(metadata.type, method);
    }
    this.types = [...this.evolvers.keys()];
    for (const { commandClass, method, options: decides } of getDecidesMetadata(this.handlerClass)) {
      requireMethod(method, `the @Decides(${commandClass.name}) handler`);
      if (decides.query === undefined && this.types.length === 0) {
        throw new ConfigurationError(
          `${this.handlerClass.name}.${method}() decides ${commandClass.name} on the types of its @Evolves methods, but it has none: add @Evolves methods or give @Decides a query.`,
        );
      }
      this.decisions.set(commandClass, {
        method,
        options: decides,
        idSource: decides.id ?? 'aggregateId',
        aggregate: decides.aggregate === undefined ? undefined : aggregateFor(decides.aggregate),
      });
    }
    if (this.decisions.size === 0) {
      throw new ConfigurationError(`@DecisionHandler ${this.handlerClass.name} ('${this.name}') has no @Decides methods.`);
    }
    // The same list the Nest module checks from the class alone, before the instance exists.
    this.eventClasses = decisionHandlerEventClasses(this.handlerClass);
  }

  /**
   * The query a command's decision reads and appends on, checked against `EVENT_QUERY_LIMITS`:
   * a computed query that is empty, too large, or carries an empty or oversized tag is the
   * command's fault, refused with `InvalidCommandError` before anything is read or written.
   */
  queryFor(command: object): EventQuery {
    const decision = this.decision(command);
    const { tags, query } = decision.options as DecidesOptions<object>;
    let computed: unknown;
    try {
      computed = query !== undefined ? query(command) : [{ types: this.types, ...(tags === undefined ? {} : { tags: tags(command) }) }];
    } catch (error) {
      throw new InvalidCommandError(command.constructor.name, `its decision query could not be computed: ${(error as Error).message}`);
    }
    try {
      return checkEventQuery('query', computed);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      throw new InvalidCommandError(command.constructor.name, `the query of its decision (${this.name}) is unusable: ${error.message}`, [error.argument]);
    }
  }

  /** The resolved `@Decides` of a command; `ConfigurationError` for a command it does not decide. */
  decision(command: object): ResolvedDecision {
    const decision = this.decisions.get(command.constructor as ClassType);
    if (!decision) throw new ConfigurationError(`${this.handlerClass.name} does not decide ${command.constructor.name}.`);
    return decision;
  }

  /** The id and stream the command's events go to (`InvalidCommandError` without an id). */
  target(command: object): { id: string; streamId: string; aggregateType: string } {
    const decision = this.decision(command);
    const id = readAggregateId(decision.idSource, command);
    if (decision.aggregate) return { id, streamId: decision.aggregate.streamId(id), aggregateType: decision.aggregate.name };
    return { id, streamId: `${this.name}-${id}`, aggregateType: this.name };
  }

  /** A fresh initial state. */
  initialState(): S {
    return this.initial();
  }

  /** Folds one event into the state (an event of a type nothing evolves changes nothing). */
  evolve(state: S, type: string, event: object): S {
    const method = this.evolvers.get(type);
    if (method === undefined) return state;
    const next = (this.instance as Record<string, Method>)[method]!.call(this.instance, state, event);
    return next === undefined ? state : (next as S);
  }

  /** Runs the command's handler and returns the events it decided on. */
  async decide(command: object, state: S, context: DecisionContext): Promise<object[]> {
    const { method } = this.decision(command);
    const result = await (this.instance as Record<string, Method>)[method]!.call(this.instance, command, state, context);
    if (result === undefined || result === null) return [];
    const events = Array.isArray(result) ? (result as unknown[]) : [result];
    for (const event of events) {
      if (event === null || typeof event !== 'object') {
        throw new ConfigurationError(`${this.handlerClass.name}.${method}() returned ${String(event)}; a decision returns event objects.`);
      }
    }
    return events as object[];
  }
}
