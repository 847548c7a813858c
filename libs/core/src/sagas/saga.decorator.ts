import { SAGA_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from '../aggregates/class-type.js';

/** Options of Chronicle's `@Saga` (not `@nestjs/cqrs`'s RxJS `@Saga`, which is a method decorator). */
export interface SagaOptions {
  /** Unique, stable name: stored with every instance, and part of every command id it dispatches. */
  name: string;
  /** Schema version of the state; bump it with `migrateState` when the state's shape changes. @default 1 */
  stateVersion?: number;
  /** Failed deliveries of one message before it is parked. @default 5 */
  maxAttempts?: number;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/**
 * Declares a persisted saga (a process manager): a singleton provider whose `@StartsSaga` method
 * creates an instance on an event, whose `@SagaHandler` methods handle later events correlated to
 * it, and whose `@OnDeadline` methods fire on stored timeouts. State, deadlines and progress are in
 * the database, so instances resume after a restart, on any instance of the application.
 */
export function Saga(options: SagaOptions): ClassDecorator {
  if (!options || typeof options.name !== 'string' || !NAME_PATTERN.test(options.name)) {
    throw new ConfigurationError(`@Saga name ${JSON.stringify(options?.name)} is invalid: use 1–100 letters, digits and . _ - (no ':').`);
  }
  for (const key of ['stateVersion', 'maxAttempts'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ConfigurationError(`@Saga('${options.name}') ${key} must be a positive integer, got ${String(value)}.`);
    }
  }
  return (target) => {
    Reflect.defineMetadata(SAGA_METADATA, { ...options }, target);
  };
}

/** The `@Saga` options of a class, or undefined. */
export function getSagaMetadata(target: ClassType | object): SagaOptions | undefined {
  return Reflect.getOwnMetadata(SAGA_METADATA, target) as SagaOptions | undefined;
}
