/**
 * A port's record as its table row holds it: every optional field is a nullable column (`null`
 * where the record leaves the field out). The entity row types derive from the ports' records
 * through it, so that each record is declared once (in `@chronicle/core`) and a field added to a
 * record shows up in its entity's type.
 */
export type StoredRecord<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };
