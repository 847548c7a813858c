/** What `plainDataCopy` returns for a value it cannot copy faithfully. */
export const NOT_PLAIN_DATA: unique symbol = Symbol('not plain data');

/**
 * A deep copy of plain data — primitives, arrays, objects whose prototype is `Object.prototype` or
 * null, `Map` with primitive keys, `Set` of primitives and `Date` — or `NOT_PLAIN_DATA` when the value holds anything else (a class
 * instance, a function, a symbol, a cycle, nesting deeper than 64). A decision state that copies
 * faithfully can be cached and handed to the decision as a copy; one that does not is folded afresh
 * each time. Hand-written rather than `structuredClone`, which turns class instances into plain
 * objects silently (losing their methods) instead of saying it cannot copy them, and costs a
 * serialization round for the small states decisions usually hold.
 */
export function plainDataCopy<T>(value: T): T | typeof NOT_PLAIN_DATA {
  return copy(value, 0, new Set()) as T | typeof NOT_PLAIN_DATA;
}

function copy(value: unknown, depth: number, path: Set<object>): unknown {
  if (value === null || value === undefined) return value;
  const kind = typeof value;
  if (kind === 'string' || kind === 'number' || kind === 'boolean' || kind === 'bigint') return value;
  if (kind !== 'object' || depth > 64) return NOT_PLAIN_DATA;
  const object = value as object;
  if (path.has(object)) return NOT_PLAIN_DATA;
  path.add(object);
  try {
    if (Array.isArray(object)) {
      if (Object.getPrototypeOf(object) !== Array.prototype) return NOT_PLAIN_DATA;
      const result = new Array<unknown>(object.length);
      for (let i = 0; i < object.length; i++) {
        const item = copy(object[i], depth + 1, path);
        if (item === NOT_PLAIN_DATA) return NOT_PLAIN_DATA;
        result[i] = item;
      }
      return result;
    }
    const prototype = Object.getPrototypeOf(object) as object | null;
    if (prototype === Object.prototype || prototype === null) {
      if (Object.getOwnPropertySymbols(object).length > 0) return NOT_PLAIN_DATA;
      const result: Record<string, unknown> = prototype === null ? Object.create(null) : {};
      for (const key of Object.keys(object)) {
        const item = copy((object as Record<string, unknown>)[key], depth + 1, path);
        if (item === NOT_PLAIN_DATA) return NOT_PLAIN_DATA;
        result[key] = item;
      }
      return result;
    }
    if (prototype === Date.prototype) return new Date((object as Date).getTime());
    if (prototype === Map.prototype) {
      const result = new Map<unknown, unknown>();
      for (const [key, item] of object as Map<unknown, unknown>) {
        // Keys are compared by identity: only primitive keys mean the same thing in a copy.
        if (key !== null && (typeof key === 'object' || typeof key === 'function' || typeof key === 'symbol')) return NOT_PLAIN_DATA;
        const copiedItem = copy(item, depth + 1, path);
        if (copiedItem === NOT_PLAIN_DATA) return NOT_PLAIN_DATA;
        result.set(key, copiedItem);
      }
      return result;
    }
    if (prototype === Set.prototype) {
      const result = new Set<unknown>();
      for (const item of object as Set<unknown>) {
        if (item !== null && (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol')) return NOT_PLAIN_DATA;
        result.add(item);
      }
      return result;
    }
    return NOT_PLAIN_DATA;
  } finally {
    path.delete(object);
  }
}
