import { PERSONAL_DATA_METADATA } from '../constants/metadata.constants.js';
import { PersonalDataDeclarationError } from '../errors/personal-data-declaration.error.js';
import type { JsonValue } from './json.js';

/** Options of `@PersonalData`. */
export interface PersonalDataOptions {
  /**
   * What every read sees in place of the value once its subject is forgotten. Must be JSON (it is
   * stored nowhere, but it travels where the value did: aggregates, projections, messages).
   * @default null
   */
  replacement?: JsonValue;
}

/** One `@PersonalData` property of an event class. */
export interface PersonalField {
  /** The property name, as it appears in the stored payload. */
  name: string;
  /** The declared replacement. */
  replacement: JsonValue;
}

function isJson(value: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(value as Record<string, unknown>).every((item) => isJson(item, depth + 1));
  }
  return false;
}

/**
 * Marks an event property as personal data: its value (a string, a number, a nested object, an
 * array: any JSON) is stored encrypted with the data key of the event's subject (`@Event(type,
 * { subject })`), and reads as `replacement` once the subject is forgotten. The other properties
 * stay plain, readable by queries and projections.
 *
 * Declare the property in the class body (`@PersonalData() readonly owner!: string;`): a constructor
 * parameter has no name at run time, so the decorator refuses it.
 *
 * @example
 * ```ts
 * @Event('account.opened', { subject: 'accountId' })
 * export class AccountOpened {
 *   @PersonalData() readonly owner!: string;
 *   constructor(readonly accountId: string, owner: string) { this.owner = owner; }
 * }
 * ```
 */
export function PersonalData(options: PersonalDataOptions = {}): (target: object, propertyKey?: string | symbol, index?: number) => void {
  if (options === null || typeof options !== 'object') {
    throw new PersonalDataDeclarationError(`@PersonalData options must be an object, got ${String(options)}.`);
  }
  const replacement = options.replacement === undefined ? null : options.replacement;
  if (!isJson(replacement)) {
    throw new PersonalDataDeclarationError(
      '@PersonalData replacement must be a JSON value (null, a string, a finite number, a boolean, or plain arrays and objects of them).',
    );
  }
  return (target, propertyKey, index) => {
    const owner = typeof target === 'function' ? target : target.constructor;
    if (typeof index === 'number') {
      throw new PersonalDataDeclarationError(
        `@PersonalData on parameter ${index} of ${(owner as { name: string }).name}'s constructor: a parameter has no name at run time. ` +
          'Declare the property in the class body instead (`@PersonalData() readonly owner!: string;`).',
      );
    }
    if (typeof propertyKey !== 'string') {
      throw new PersonalDataDeclarationError(
        `@PersonalData on ${(owner as { name: string }).name}: only string-named instance properties can be personal data.`,
      );
    }
    if (typeof target === 'function') {
      throw new PersonalDataDeclarationError(
        `@PersonalData on static ${(owner as { name: string }).name}.${propertyKey}: only instance properties are stored with an event.`,
      );
    }
    const descriptor = Object.getOwnPropertyDescriptor(target, propertyKey);
    if (descriptor && (typeof descriptor.value === 'function' || descriptor.get || descriptor.set)) {
      throw new PersonalDataDeclarationError(
        `@PersonalData on ${(owner as { name: string }).name}.${propertyKey}: it is a method or accessor; mark a data property.`,
      );
    }
    const fields = [...((Reflect.getOwnMetadata(PERSONAL_DATA_METADATA, owner) as PersonalField[] | undefined) ?? [])];
    if (fields.some((field) => field.name === propertyKey)) {
      throw new PersonalDataDeclarationError(`@PersonalData is declared twice on ${(owner as { name: string }).name}.${propertyKey}.`);
    }
    fields.push({ name: propertyKey, replacement: structuredClone(replacement) });
    Reflect.defineMetadata(PERSONAL_DATA_METADATA, fields, owner);
  };
}

/** The `@PersonalData` fields of an event class (its own and inherited), empty when there are none. */
export function getPersonalFields(target: object): readonly PersonalField[] {
  const fields = new Map<string, PersonalField>();
  const chain: object[] = [];
  for (let current: object | null = target; current && current !== Function.prototype; current = Object.getPrototypeOf(current) as object | null) {
    chain.unshift(current);
  }
  for (const klass of chain) {
    for (const field of (Reflect.getOwnMetadata(PERSONAL_DATA_METADATA, klass) as PersonalField[] | undefined) ?? []) {
      fields.set(field.name, field);
    }
  }
  return [...fields.values()];
}
