import { ConfigurationError } from '../errors/configuration.error.js';
import { DomainRuleViolation } from '../errors/domain-rule-violation.error.js';
import type { JsonObject } from '../events/json.js';
import { getAggregateMetadata, type AggregateOptions } from './aggregate.decorator.js';
import type { AggregateIdSource } from './aggregate-id-source.js';
import { getCommandHandlersMetadata } from './handles.decorator.js';
import { getEventAppliersMetadata } from './applies.decorator.js';
import { getInvariantsMetadata } from './invariant.decorator.js';
import type { ClassType } from './class-type.js';

/** What a command handler receives besides the command. */
export interface CommandContext {
  aggregateId: string;
  /** The aggregate's version before the command (0 for a new aggregate). */
  version: number;
  /** The gateway's clock reading for this command. */
  now: Date;
}

/** A resolved `@Handles` declaration. */
export interface ResolvedCommandHandler {
  method: string;
  creates: boolean;
  idSource: AggregateIdSource;
}

/** A resolved snapshot policy. */
export interface SnapshotPolicy<T extends object> {
  every: number;
  keep: number;
  version: number;
  serialize(aggregate: T): JsonObject;
  restore(state: JsonObject): T;
}

type Method = (...args: unknown[]) => unknown;

/**
 * An aggregate class compiled from its decorators: how to create, command, evolve, check and
 * snapshot it. Built once at start-up, so a mistake in the decorators fails the boot, not a request.
 */
export class AggregateDefinition<T extends object = object> {
  readonly name: string;
  readonly handlers = new Map<ClassType, ResolvedCommandHandler>();
  readonly appliers = new Map<ClassType, string>();
  readonly invariants: readonly string[];
  readonly snapshot: SnapshotPolicy<T> | undefined;
  /** Every event class the aggregate emits or applies. */
  readonly eventClasses: readonly ClassType[];

  constructor(readonly aggregateClass: ClassType<T>) {
    const options: AggregateOptions<T> | undefined = getAggregateMetadata(aggregateClass);
    if (!options) {
      throw new ConfigurationError(`${aggregateClass.name} is listed as an aggregate but has no @Aggregate({ name }) decorator.`);
    }
    this.name = options.name;
    const defaultId = options.id ?? 'aggregateId';
    const prototype = aggregateClass.prototype as Record<string, unknown>;
    const requireMethod = (method: string, role: string): void => {
      if (typeof prototype[method] !== 'function') {
        throw new ConfigurationError(`${aggregateClass.name}.${method} is declared as ${role} but is not a method.`);
      }
    };
    for (const h of getCommandHandlersMetadata(aggregateClass)) {
      requireMethod(h.method, `the @Handles(${h.commandClass.name}) handler`);
      this.handlers.set(h.commandClass, { method: h.method, creates: h.creates, idSource: h.id ?? defaultId });
    }
    if (this.handlers.size === 0) {
      throw new ConfigurationError(`@Aggregate ${aggregateClass.name} ('${this.name}') has no @Handles methods.`);
    }
    for (const a of getEventAppliersMetadata(aggregateClass)) {
      requireMethod(a.method, `the @Applies(${a.eventClass.name}) applier`);
      this.appliers.set(a.eventClass, a.method);
    }
    this.invariants = getInvariantsMetadata(aggregateClass);
    this.invariants.forEach((method) => requireMethod(method, 'an @Invariant'));
    this.eventClasses = [...new Set([...this.appliers.keys(), ...(options.events ?? [])])];
    if (options.snapshot) {
      const s = options.snapshot;
      this.snapshot = {
        every: s.every,
        keep: s.keep ?? 2,
        version: s.version ?? 1,
        serialize: s.serialize ?? ((aggregate) => JSON.parse(JSON.stringify(aggregate)) as JsonObject),
        restore: s.restore ?? ((state) => Object.assign(this.create(), state)),
      };
    }
  }

  /** The stream id of an aggregate instance. */
  streamId(aggregateId: string): string {
    return `${this.name}-${aggregateId}`;
  }

  /** A blank aggregate, before its first event. */
  create(): T {
    return new (this.aggregateClass as unknown as new () => T)();
  }

  /** An independent copy of an aggregate (through its snapshot form), safe to hand to readers. */
  clone(aggregate: T): T {
    if (this.snapshot) return this.snapshot.restore(this.snapshot.serialize(aggregate));
    return Object.assign(this.create(), JSON.parse(JSON.stringify(aggregate)) as JsonObject);
  }

  /**
   * Runs a command handler and returns the events it decided on: at once when the handler is
   * synchronous, as a promise when it returns one. No promise for a synchronous handler: with
   * AsyncLocalStorage entered (an OpenTelemetry SDK), Node 20 runs promise hooks for each one.
   */
  handle(aggregate: T, command: object, context: CommandContext): object[] | Promise<object[]> {
    const handler = this.handlers.get(command.constructor as ClassType);
    if (!handler) throw new ConfigurationError(`${this.aggregateClass.name} does not handle ${command.constructor.name}.`);
    const result: unknown = (aggregate as Record<string, Method>)[handler.method]!.call(aggregate, command, context);
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      return Promise.resolve(result).then((settled) => this.eventsOf(handler.method, settled));
    }
    return this.eventsOf(handler.method, result);
  }

  /** What a handler returned, as a list of events; throws when it returned something else. */
  private eventsOf(method: string, result: unknown): object[] {
    if (result === undefined || result === null) return [];
    const events = Array.isArray(result) ? (result as unknown[]) : [result];
    for (const event of events) {
      if (event === null || typeof event !== 'object') {
        throw new ConfigurationError(`${this.aggregateClass.name}.${method}() returned ${String(event)}; a handler returns event objects.`);
      }
    }
    return events as object[];
  }

  /** Applies one event to the aggregate; an event with no applier changes nothing. */
  apply(aggregate: T, event: object): void {
    const method = this.appliers.get(event.constructor as ClassType);
    if (method) (aggregate as Record<string, Method>)[method]!.call(aggregate, event);
  }

  /** Runs every `@Invariant`; throws a `DomainRuleViolation` for the first that fails. */
  checkInvariants(aggregate: T): void {
    for (const method of this.invariants) {
      const verdict = (aggregate as Record<string, Method>)[method]!.call(aggregate);
      if (typeof verdict === 'string') {
        throw new DomainRuleViolation(verdict, { code: `${this.name}.${method}` });
      }
    }
  }
}
