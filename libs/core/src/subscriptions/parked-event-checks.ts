import { checkIntegerArgument } from '../ports/integer-argument.js';
import type { ParkedEvent } from '../ports/checkpoint-store.port.js';

/**
 * Checks the integers of events a checkpoint step or rebuild parks, the same way in every
 * CheckpointStore: version and position are safe integers >= 1 (they come from the journal),
 * attempts >= 0; the version at most `maxStoredVersion`, the largest the store's column holds
 * (on PostgreSQL the journal never writes a larger one). `argument` names the list (`step.park`).
 */
export function checkParkedEvents(
  argument: string,
  events: readonly ParkedEvent[] | undefined,
  maxStoredVersion = Number.MAX_SAFE_INTEGER,
  maximumReason?: string,
): void {
  if (events === undefined) return;
  events.forEach((event, index) => {
    checkIntegerArgument(`${argument}[${index}].version`, event.version, 1, maxStoredVersion, maximumReason);
    checkIntegerArgument(`${argument}[${index}].position`, event.position, 1);
    checkIntegerArgument(`${argument}[${index}].attempts`, event.attempts, 0);
  });
}
