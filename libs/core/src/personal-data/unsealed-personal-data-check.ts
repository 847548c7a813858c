import { ConfigurationError } from '../errors/configuration.error.js';
import type { EventClassMetadata } from '../events/event.decorator.js';
import type { EventRegistry } from '../events/event-registry.js';
import { personalEventTypes } from './plain-personal-data-check.js';

/**
 * Refuses, with a `ConfigurationError` naming each and how it differs, event types of `registry`
 * that declare `@PersonalData` fields which a storage wrapped by `withPersonalData` would not seal
 * as declared. That storage seals by its own registry (`sealing`, the `events` it was given): a
 * type missing there is written in plain text, a field it does not list as personal is written in
 * plain text, and another subject seals under a key `forget(subject)` does not destroy.
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
    const fields = fieldNames(declared.metadata);
    const sealedFields = fieldNames(sealed);
    if (fields !== sealedFields) {
      problems.push(`"${type}" (the wrapped storage's registry declares @PersonalData ${sealedFields || 'none'} instead of ${fields})`);
    } else if (declared.metadata.subject !== sealed.subject) {
      // A function subject is compared by identity: two functions may name other subjects.
      problems.push(`"${type}" (the wrapped storage's registry declares another subject: ${subjectName(sealed)} instead of ${subjectName(declared.metadata)})`);
    }
  }
  if (problems.length === 0) return;
  throw new ConfigurationError(
    `Events ${problems.join(', ')} declare @PersonalData fields that the storage given to ${where}, wrapped by withPersonalData, would not seal as declared: ` +
      `they would be stored in plain text, or under a key forget(subject) does not destroy. ${remedy}`,
  );
}

function fieldNames(metadata: EventClassMetadata): string {
  return metadata.personalFields
    .map((field) => field.name)
    .sort()
    .join(', ');
}

function subjectName(metadata: EventClassMetadata): string {
  return typeof metadata.subject === 'string' ? `"${metadata.subject}"` : typeof metadata.subject === 'function' ? 'a function' : 'none';
}
