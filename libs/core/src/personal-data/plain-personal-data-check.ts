import { ConfigurationError } from '../errors/configuration.error.js';
import type { EventRegistry } from '../events/event-registry.js';

/**
 * Refuses, with a `ConfigurationError` naming them, event types that declare `@PersonalData`
 * fields when nothing will seal them: they would be written in plain text, and forgetting their
 * subject could not erase them. `remedy` says what the caller should add.
 */
export function refusePlainPersonalData(registry: EventRegistry, where: string, remedy: string): void {
  const personal = personalEventTypes(registry);
  if (personal.length === 0) return;
  throw new ConfigurationError(
    `Events ${personal.map((type) => `"${type}"`).join(', ')} declare @PersonalData fields, but ${where} has nothing to encrypt them with: ` +
      `they would be stored in plain text. ${remedy}`,
  );
}

/** The event types of `registry` whose classes declare `@PersonalData` fields. */
export function personalEventTypes(registry: EventRegistry): string[] {
  return registry.types().filter((type) => registry.forType(type).metadata.personalFields.length > 0);
}
