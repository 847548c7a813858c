/** A JSON value as stored in the journal. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object as stored in the journal (event payloads, snapshot state, metadata). */
export type JsonObject = { [key: string]: JsonValue };
