import { DECISION_HANDLER_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from '../aggregates/class-type.js';
import { getEvolversMetadata } from './evolves.decorator.js';

/** Options of `@DecisionHandler`. */
export interface DecisionHandlerOptions<S = unknown> {
  /**
   * Stable name: the aggregate type of the streams its events go to when a `@Decides` names no
   * aggregate (`<name>-<id>`), and the `chronicle.aggregate.type` of its command spans.
   */
  name: string;
  /** The state before any event, made afresh for a decision with nothing kept (then folded by the `@Evolves` methods). */
  initialState: () => S;
  /** Event classes its handlers return but no `@Evolves` method folds (those are included anyway). */
  events?: ClassType[];
}

const DECISION_NAME_PATTERN = /^[a-z][a-z0-9_.]{0,62}$/i;

/**
 * Declares a decision handler: a rule that spans streams (a dynamic consistency boundary). For
 * each command it handles (`@Decides`), the gateway reads the events matching the query the
 * command names, folds them from `initialState()` through the `@Evolves` methods, calls the
 * handler with that state, and appends the events it returns on the condition that no event
 * matching the query was committed since the read; when one was, it reads and decides again.
 *
 * Unlike an aggregate, the handler is an instance (a Nest provider, or an object given to
 * `createChronicle({ decisions })`), so it may hold configuration; the state is a separate value.
 * The configuration belongs in the `@Decides` method: `initialState()` and the `@Evolves` methods
 * must depend on the state and the event alone, because the gateway keeps a folded state and
 * folds only the events committed since (the decision-state cache, `gateway.decisionCacheSize`).
 */
export function DecisionHandler<S>(options: DecisionHandlerOptions<S>): (target: ClassType) => void {
  if (!options || typeof options.name !== 'string' || !DECISION_NAME_PATTERN.test(options.name)) {
    throw new ConfigurationError(
      `@DecisionHandler name ${JSON.stringify(options?.name)} is invalid: use 1–63 letters, digits, _ or ., starting with a letter (no '-': it separates the name from the id in stream ids).`,
    );
  }
  if (typeof options.initialState !== 'function') {
    throw new ConfigurationError(`@DecisionHandler('${options.name}') needs initialState: a function returning the state before any event.`);
  }
  return (target) => {
    Reflect.defineMetadata(DECISION_HANDLER_METADATA, options, target);
  };
}

/** The `@DecisionHandler` options of a class, or undefined when it is not a decision handler. */
export function getDecisionHandlerMetadata(target: ClassType): DecisionHandlerOptions | undefined {
  return Reflect.getOwnMetadata(DECISION_HANDLER_METADATA, target) as DecisionHandlerOptions | undefined;
}

/**
 * Every event class a `@DecisionHandler` class folds (`@Evolves`) or emits (its `events` option),
 * in that order, read from its decorators alone: the events its instances add to the catalog. A
 * host that holds the class before its instance exists (the Nest module) checks them with it.
 */
export function decisionHandlerEventClasses(handlerClass: ClassType): ClassType[] {
  const evolved = getEvolversMetadata(handlerClass).map(({ eventClass }) => eventClass);
  return [...new Set([...evolved, ...(getDecisionHandlerMetadata(handlerClass)?.events ?? [])])];
}
