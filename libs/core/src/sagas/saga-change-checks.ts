import { checkIntegerArgument } from '../ports/integer-argument.js';
import type { SagaChange } from '../ports/saga-store.port.js';

/**
 * Checks the integers of a saga change, the same way in every SagaStore: versions are safe
 * integers, none negative; a stored one (the instance's version and state version) at most
 * `maxStoredVersion`, the largest its store's columns hold. The expected version is only compared,
 * never stored, so any safe integer is accepted: one past what a store can hold simply is not
 * the instance's version (a `SagaConcurrencyError` from the store).
 */
export function checkSagaChange(change: SagaChange, maxStoredVersion = Number.MAX_SAFE_INTEGER, maximumReason?: string): void {
  checkIntegerArgument('change.expectedVersion', change.expectedVersion, 0);
  checkIntegerArgument('change.instance.version', change.instance.version, 0, maxStoredVersion, maximumReason);
  checkIntegerArgument('change.instance.stateVersion', change.instance.stateVersion, 1, maxStoredVersion, maximumReason);
}
