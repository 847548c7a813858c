import { ConfigurationError } from '../errors/configuration.error.js';
import type { EventClassMetadata } from '../events/event.decorator.js';
import type { EventRegistry } from '../events/event-registry.js';
import type { JsonValue } from '../events/json.js';
import { personalEventTypes } from './plain-personal-data-check.js';

/**
 * Refuses, with a `ConfigurationError` naming each and how it differs, event types of `registry`
 * that declare `@PersonalData` fields which a storage wrapped by `withPersonalData` would not seal
 * as declared. That storage seals by its own registry (`sealing`, the `events` it was given): a
 * type missing there is written in plain text, a field it does not list as personal is written in
 * plain text, another replacement is what reads of a forgotten value return instead of the
 * declared one, and another subject seals under a key `forget(subject)` does not destroy. A
 * subject given as a function cannot be compared with another: both must be the same function.
 * `sealing` undefined (the registry could not be read) refuses every personal type: nothing says
 * they would be sealed. `remedy` says what the caller should do.
 */
export function refuseUnsealedPersonalData(registry: EventRegistry, sealing: EventRegistry | undefined, where: string, remedy: string): void {
  const problems: string[] = [];
  for (const type of personalEventTypes(registry)) {
    const declared = registry.forType(type);
    if (sealing === undefined) {
      problems.push(`"${type}" (the wrapped storage's event registry could not be read)`);
      continue;
    }
    let sealed: EventClassMetadata | undefined;
    try {
      const registration = sealing.forType(type);
      // The same class is the same declaration: nothing to compare.
      if (registration.eventClass === declared.eventClass) continue;
      sealed = registration.metadata;
    } catch {
      problems.push(`"${type}" (not in the wrapped storage's event registry)`);
      continue;
    }
    const difference = declarationDifference(declared.metadata, sealed);
    if (difference !== undefined) problems.push(`"${type}" (the wrapped storage's registry declares ${difference})`);
  }
  if (problems.length === 0) return;
  throw new ConfigurationError(
    `Events ${problems.join(', ')} declare @PersonalData fields that the storage given to ${where}, wrapped by withPersonalData, would not seal as declared: ` +
      `they would be stored in plain text, read back with another replacement once forgotten, or sealed under a key forget(subject) does not destroy. ${remedy}`,
  );
}

/** How the sealing registry's declaration of a type differs from the catalog's, worded after "declares"; undefined when alike. */
function declarationDifference(declared: EventClassMetadata, sealed: EventClassMetadata): string | undefined {
  const fields = fieldNames(declared);
  const sealedFields = fieldNames(sealed);
  if (fields !== sealedFields) return `@PersonalData ${sealedFields || 'none'} instead of ${fields}`;
  // The same field names: each declared field has its sealed counterpart.
  const sealedReplacements = new Map(sealed.personalFields.map((field) => [field.name, canonicalJson(field.replacement)]));
  const replacements = declared.personalFields
    .filter((field) => sealedReplacements.get(field.name) !== canonicalJson(field.replacement))
    .map((field) => `${field.name}: ${sealedReplacements.get(field.name)} instead of ${canonicalJson(field.replacement)}`);
  if (replacements.length > 0) return `another replacement (${replacements.join('; ')})`;
  if (declared.subject === sealed.subject) return undefined;
  if (typeof declared.subject === 'function' && typeof sealed.subject === 'function') {
    // Two functions (two copies of one class, say) may or may not name the same subject: nothing tells.
    return 'its subject by another function: functions cannot be compared, so both must declare the same function (register the same class, from one copy of its module)';
  }
  if (typeof declared.subject === 'function' || typeof sealed.subject === 'function') {
    return `its subject as ${subjectName(sealed)} instead of ${subjectName(declared)}: a function cannot be compared with a property name, so both must declare the same property or the same function`;
  }
  return `another subject: ${subjectName(sealed)} instead of ${subjectName(declared)}`;
}

function fieldNames(metadata: EventClassMetadata): string {
  return metadata.personalFields
    .map((field) => field.name)
    .sort()
    .join(', ');
}

/** JSON with object keys sorted: equal strings for JSON-equal values. */
function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, JsonValue>)[key] as JsonValue)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function subjectName(metadata: EventClassMetadata): string {
  return typeof metadata.subject === 'string' ? `"${metadata.subject}"` : typeof metadata.subject === 'function' ? 'a function' : 'none';
}
