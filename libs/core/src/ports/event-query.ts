import { InvalidArgumentError } from '../errors/invalid-argument.error.js';
import type { NewEvent } from '../events/recorded-event.js';
import type { AppendCondition, EventQuery, EventQueryItem } from './journal.port.js';

/**
 * The sizes every journal accepts in an {@link EventQuery} and in the events of a conditional
 * append. They bound the work of one decision (its read, and on PostgreSQL the number of advisory
 * locks a conditional append takes), so an oversized query is refused by name instead of slowing
 * every writer it would serialize with.
 */
export const EVENT_QUERY_LIMITS = {
  /** Items in one query. @default 32 */
  maxItems: 32,
  /** Types in one item. @default 32 */
  maxTypesPerItem: 32,
  /** Tags in one item, and tags on one event of a conditional append. @default 16 */
  maxTags: 16,
  /** Length of a tag or a type, in UTF-16 code units. @default 256 */
  maxLength: 256,
} as const;

function checkNames(argument: string, names: unknown, kind: 'type' | 'tag', most: number): readonly string[] {
  if (names === undefined) return [];
  if (!Array.isArray(names)) throw new InvalidArgumentError(argument, names, `an array of ${kind}s`);
  if (names.length > most) throw new InvalidArgumentError(`${argument}.length`, names.length, `at most ${most} ${kind}s`);
  names.forEach((name: unknown, index) => {
    if (typeof name !== 'string' || name.length === 0 || name.length > EVENT_QUERY_LIMITS.maxLength) {
      throw new InvalidArgumentError(`${argument}[${index}]`, name, `a non-empty ${kind} of at most ${EVENT_QUERY_LIMITS.maxLength} characters`);
    }
  });
  return names as string[];
}

/**
 * Checks a query the way every journal does, before anything is read or written: at least one item,
 * each an object whose `types` and `tags` are arrays of non-empty strings within
 * {@link EVENT_QUERY_LIMITS}. Throws `InvalidArgumentError` naming the offending part.
 */
export function checkEventQuery(argument: string, query: unknown): EventQuery {
  if (!Array.isArray(query) || query.length === 0) {
    throw new InvalidArgumentError(argument, query, 'a list of at least one item ([{}] matches every event)');
  }
  if (query.length > EVENT_QUERY_LIMITS.maxItems) {
    throw new InvalidArgumentError(`${argument}.length`, query.length, `at most ${EVENT_QUERY_LIMITS.maxItems} items`);
  }
  query.forEach((item: unknown, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new InvalidArgumentError(`${argument}[${index}]`, item, 'an item { types?, tags? }');
    }
    const { types, tags } = item as EventQueryItem;
    checkNames(`${argument}[${index}].types`, types, 'type', EVENT_QUERY_LIMITS.maxTypesPerItem);
    checkNames(`${argument}[${index}].tags`, tags, 'tag', EVENT_QUERY_LIMITS.maxTags);
  });
  return query as EventQuery;
}

/**
 * Checks an append condition and the events it guards: the query (see {@link checkEventQuery}),
 * `after` a string or null, and the new events' tags within {@link EVENT_QUERY_LIMITS} (on
 * PostgreSQL each (type, tag) pair of a new event is a lock key). Whether `after` is a cursor of
 * this journal is the journal's own check.
 */
export function checkAppendCondition(condition: unknown, events: readonly NewEvent[]): AppendCondition {
  if (typeof condition !== 'object' || condition === null) {
    throw new InvalidArgumentError('condition', condition, 'an object { failIfEventsMatch, after }');
  }
  const { failIfEventsMatch, after } = condition as AppendCondition;
  checkEventQuery('condition.failIfEventsMatch', failIfEventsMatch);
  if (after !== null && typeof after !== 'string') {
    throw new InvalidArgumentError('condition.after', after, 'a feed cursor returned by readByQuery, or null');
  }
  events.forEach((event, index) => checkNames(`events[${index}].tags of a conditional append`, event.tags, 'tag', EVENT_QUERY_LIMITS.maxTags));
  return condition as AppendCondition;
}

/** Whether an event of `type` carrying `tags` matches the query (see {@link EventQueryItem}). */
export function eventMatchesQuery(query: EventQuery, type: string, tags: readonly string[]): boolean {
  return query.some(
    (item) =>
      (item.types === undefined || item.types.length === 0 || item.types.includes(type)) &&
      (item.tags ?? []).every((tag) => tags.includes(tag)),
  );
}
