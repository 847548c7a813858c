/** What `plainDataCopy` returns for a value it cannot copy faithfully. */
export const NOT_PLAIN_DATA: unique symbol = Symbol('not plain data');

/**
 * A deep copy of plain data — primitives, arrays without holes or extra properties, objects whose
 * prototype is `Object.prototype` or null with only enumerable data properties, `Map` with
 * primitive keys, `Set` of primitives and `Date` — or `NOT_PLAIN_DATA` when the value holds anything
 * else (a class instance, a function, a symbol, a getter, a non-enumerable or `__proto__` own
 * property, nesting deeper than 64). An object met twice is copied once (the copy shares it the same
 * way, cycles included), so the copy behaves as the original under any read. A decision state that
 * copies faithfully can be cached and handed to the decision as a copy; one that does not is folded
 * afresh each time. Hand-written rather than `structuredClone`, which turns class instances into
 * plain objects silently (losing their methods) instead of saying it cannot copy them.
 */
export function plainDataCopy<T>(value: T): T | typeof NOT_PLAIN_DATA {
  return copy(value, 0, new Map()) as T | typeof NOT_PLAIN_DATA;
}

function isPrimitiveKey(value: unknown): boolean {
  return value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol');
}

function copy(value: unknown, depth: number, copies: Map<object, unknown>): unknown {
  if (value === null || value === undefined) return value;
  const kind = typeof value;
  if (kind === 'string' || kind === 'number' || kind === 'boolean' || kind === 'bigint') return value;
  if (kind !== 'object' || depth > 64) return NOT_PLAIN_DATA;
  const object = value as object;
  const known = copies.get(object);
  if (known !== undefined) return known;
  if (Array.isArray(object)) {
    if (Object.getPrototypeOf(object) !== Array.prototype) return NOT_PLAIN_DATA;
    // Holes and properties besides the indexes and length do not survive a plain copy.
    if (Reflect.ownKeys(object).length !== object.length + 1) return NOT_PLAIN_DATA;
    const result = new Array<unknown>(object.length);
    copies.set(object, result);
    for (let i = 0; i < object.length; i++) {
      const item = copy(object[i], depth + 1, copies);
      if (item === NOT_PLAIN_DATA) return NOT_PLAIN_DATA;
      result[i] = item;
    }
    return result;
  }
  const prototype = Object.getPrototypeOf(object) as object | null;
  if (prototype === Object.prototype || prototype === null) {
    const keys = Reflect.ownKeys(object);
    const result: Record<string, unknown> = prototype === null ? Object.create(null) : {};
    copies.set(object, result);
    for (const key of keys) {
      // Symbols, getters, non-enumerable properties and an own `__proto__` (which assignment
      // would turn into the copy's prototype) are refused rather than changed.
      if (typeof key === 'symbol' || key === '__proto__') return NOT_PLAIN_DATA;
      const descriptor = Object.getOwnPropertyDescriptor(object, key)!;
      if (!('value' in descriptor) || !descriptor.enumerable) return NOT_PLAIN_DATA;
      const item = copy(descriptor.value, depth + 1, copies);
      if (item === NOT_PLAIN_DATA) return NOT_PLAIN_DATA;
      result[key] = item;
    }
    return result;
  }
  if (prototype === Date.prototype) {
    if (Reflect.ownKeys(object).length > 0) return NOT_PLAIN_DATA;
    const result = new Date((object as Date).getTime());
    copies.set(object, result);
    return result;
  }
  if (prototype === Map.prototype) {
    if (Reflect.ownKeys(object).length > 0) return NOT_PLAIN_DATA;
    const result = new Map<unknown, unknown>();
    copies.set(object, result);
    for (const [key, item] of object as Map<unknown, unknown>) {
      // Keys are compared by identity: only primitive keys mean the same thing in a copy.
      if (!isPrimitiveKey(key)) return NOT_PLAIN_DATA;
      const copiedItem = copy(item, depth + 1, copies);
      if (copiedItem === NOT_PLAIN_DATA) return NOT_PLAIN_DATA;
      result.set(key, copiedItem);
    }
    return result;
  }
  if (prototype === Set.prototype) {
    if (Reflect.ownKeys(object).length > 0) return NOT_PLAIN_DATA;
    const result = new Set<unknown>();
    copies.set(object, result);
    for (const item of object as Set<unknown>) {
      if (!isPrimitiveKey(item)) return NOT_PLAIN_DATA;
      result.add(item);
    }
    return result;
  }
  return NOT_PLAIN_DATA;
}
