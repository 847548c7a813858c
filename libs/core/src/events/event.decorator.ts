import { EVENT_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { PersonalDataDeclarationError } from '../errors/personal-data-declaration.error.js';
import { getPersonalFields, type PersonalField } from './personal-data.decorator.js';
import type { ClassType } from '../aggregates/class-type.js';
import type { JsonObject } from './json.js';
import type { Upcaster } from './upcaster.js';

/** Options of `@Event`. */
export interface EventOptions<E extends object = object> {
  /**
   * Schema version of the payload the class writes. Bump it when the shape changes and add an
   * upcaster from the previous version.
   * @default 1
   */
  version?: number;
  /** Upcasters keyed by the version they upgrade FROM (`{ 1: v1 => v2 }`). */
  upcasters?: Record<number, Upcaster>;
  /** Tags stored with each event, for cross-stream queries. */
  tags?: (event: E) => string[];
  /**
   * Builds the event from its (upcasted) payload; throw to report a payload that no longer
   * decodes. By default the payload's properties are assigned to an instance of the class.
   */
  decode?: (payload: JsonObject) => E;
  /**
   * The data subject of the event's `@PersonalData` fields: the name of a plain property holding
   * the subject id, or a function of the event returning it. Required when the class has personal
   * fields; the subject's data key encrypts them and `forget(subject)` shreds them.
   */
  subject?: (keyof E & string) | ((event: E) => string);
}

/** What `@Event` records on a class. */
export interface EventClassMetadata<E extends object = object> {
  type: string;
  version: number;
  upcasters: ReadonlyMap<number, Upcaster>;
  tags?: (event: E) => string[];
  decode?: (payload: JsonObject) => E;
  /** The data subject (see `EventOptions.subject`). */
  subject?: (keyof E & string) | ((event: E) => string);
  /** The `@PersonalData` fields, empty when the event holds none. */
  personalFields: readonly PersonalField[];
}

const EVENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/;

/**
 * Declares a class as a domain event with a stable type name — never `constructor.name`, which
 * changes with refactoring and minification.
 *
 * @example
 * ```ts
 * @Event('account.opened')
 * export class AccountOpened { constructor(readonly accountId: string, readonly owner: string) {} }
 * ```
 */
export function Event<E extends object>(type: string, options: EventOptions<E> = {}): (target: ClassType<E>) => void {
  if (typeof type !== 'string' || !EVENT_TYPE_PATTERN.test(type)) {
    throw new ConfigurationError(
      `@Event type ${JSON.stringify(type)} is invalid: use 1–200 characters of letters, digits and . _ : / -, starting with a letter or digit.`,
    );
  }
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigurationError(`@Event('${type}') version must be a positive integer, got ${String(version)}.`);
  }
  const upcasters = new Map<number, Upcaster>();
  for (const [from, upcaster] of Object.entries(options.upcasters ?? {})) {
    const fromVersion = Number(from);
    if (!Number.isInteger(fromVersion) || fromVersion < 1 || fromVersion >= version) {
      throw new ConfigurationError(
        `@Event('${type}') has an upcaster from version ${from}; upcasters must start at 1..${version - 1}.`,
      );
    }
    if (typeof upcaster !== 'function') {
      throw new ConfigurationError(`@Event('${type}') upcaster from version ${from} is not a function.`);
    }
    upcasters.set(fromVersion, upcaster);
  }
  const subject = options.subject;
  if (subject !== undefined && typeof subject !== 'function' && (typeof subject !== 'string' || subject.length === 0)) {
    throw new PersonalDataDeclarationError(
      `@Event('${type}') subject must be a property name or a function of the event, got ${typeof subject}.`,
    );
  }
  return (target) => {
    const personalFields = getPersonalFields(target);
    if (personalFields.length > 0 && subject === undefined) {
      throw new PersonalDataDeclarationError(
        `@Event('${type}') on ${target.name} has @PersonalData fields (${personalFields.map((f) => f.name).join(', ')}) but no subject: ` +
          "name the property holding the data subject's id, e.g. @Event('" + type + "', { subject: 'accountId' }).",
      );
    }
    if (typeof subject === 'string' && personalFields.some((field) => field.name === subject)) {
      throw new PersonalDataDeclarationError(
        `@Event('${type}') subject "${subject}" is itself @PersonalData: the subject must stay readable to find its key; use an id.`,
      );
    }
    const metadata: EventClassMetadata<E> = {
      type,
      version,
      upcasters,
      tags: options.tags,
      decode: options.decode,
      subject,
      personalFields,
    };
    Reflect.defineMetadata(EVENT_METADATA, metadata, target);
  };
}

/** The `@Event` metadata of a class, or undefined when it is not an event class. */
export function getEventMetadata<E extends object>(target: ClassType<E>): EventClassMetadata<E> | undefined {
  // getOwnMetadata: a subclass of an event is not the same event type.
  return Reflect.getOwnMetadata(EVENT_METADATA, target) as EventClassMetadata<E> | undefined;
}
