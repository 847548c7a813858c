import { ChronicleError } from '../errors/chronicle.error.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { checkIntegerArgument } from '../ports/integer-argument.js';
import type { OutboxSubscription } from '../ports/outbox-store.port.js';

// Argument checks shared by every OutboxStore implementation, so they refuse the same input
// with the same words.

/** The error for an outbox call with unusable arguments; nothing was changed. */
export function invalidRequest(reason: string): ChronicleError {
  return new ChronicleError(`Outbox request is invalid: ${reason}. Nothing was changed.`, { code: 'InvalidOutboxRequest' });
}

/** The error for a backfill of a handler the store was never told about. */
export function unknownHandler(handler: string): ConfigurationError {
  return new ConfigurationError(
    `Outbox handler "${handler}" is not subscribed in this store; call subscribe() with it before backfilling it.`,
  );
}

/** Checks a subscription and returns a defensive copy. */
export function checkSubscription(subscription: OutboxSubscription): OutboxSubscription {
  const { handler, events, startFrom } = subscription;
  if (typeof handler !== 'string' || handler.length === 0) {
    throw new ConfigurationError('An outbox subscription needs a non-empty handler name.');
  }
  if (events !== '*' && (!Array.isArray(events) || events.some((type) => typeof type !== 'string' || type.length === 0))) {
    throw new ConfigurationError(`Outbox handler "${handler}" needs events as '*' or a list of event type names.`);
  }
  if (startFrom !== 'now' && startFrom !== 'beginning') {
    throw new ConfigurationError(`Outbox handler "${handler}" needs startFrom 'now' or 'beginning', got ${String(startFrom)}.`);
  }
  return { handler, events: events === '*' ? '*' : [...events], startFrom };
}

/** Checks a lease owner name. */
export function checkOwner(owner: string): void {
  if (typeof owner !== 'string' || owner.length === 0) throw invalidRequest('owner must be a non-empty string');
}

/** Checks a list of entry ids. */
export function checkIds(ids: readonly string[]): void {
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw invalidRequest('ids must be an array of entry ids');
}

/** Checks a count that must be a positive safe integer (`InvalidArgumentError` otherwise). */
export function checkPositiveInteger(name: string, value: number | undefined): void {
  checkIntegerArgument(name, value, 1);
}

/**
 * Checks the versions and positions of backfilled events: safe integers >= 1 (they come from the
 * journal), the version at most `maxStoredVersion`, the largest the store's column holds.
 */
export function checkBackfillEvents(events: readonly RecordedEvent[], maxStoredVersion = Number.MAX_SAFE_INTEGER, maximumReason?: string): void {
  events.forEach((event, index) => {
    checkIntegerArgument(`events[${index}].version`, event.version, 1, maxStoredVersion, maximumReason);
    checkIntegerArgument(`events[${index}].position`, event.position, 1);
  });
}

/** Checks an error description and returns it. */
export function checkError(error: string): string {
  if (typeof error !== 'string') throw invalidRequest('error must be a string');
  return error;
}

/** Checks a date and returns its time in milliseconds. */
export function checkDate(name: string, value: Date): number {
  const time = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(time)) throw invalidRequest(`${name} must be a valid Date, got ${String(value)}`);
  return time;
}
