import type { JsonObject } from './json.js';

/**
 * Turns a stored payload of schema version `n` into version `n + 1`. Upcasters run in a chain
 * when an event is read, so the journal is never rewritten.
 */
export type Upcaster = (payload: JsonObject) => JsonObject;
