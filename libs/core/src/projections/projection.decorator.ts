import { PROJECTION_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from '../aggregates/class-type.js';

/** Options of `@Projection`. */
export interface ProjectionOptions {
  /** Unique, stable name: the checkpoint is stored under it (as `projection:<name>`). */
  name: string;
  /**
   * `exactly-once`: each handler runs inside the transaction that moves the checkpoint and gets its
   * handle (`ctx.tx`, a TypeORM EntityManager): write the read model through it and nothing else.
   * `at-least-once`: handlers run outside any transaction (a cache, an e-mail, another database)
   * and dedupe on `ctx.eventId`.
   * @default 'exactly-once'
   */
  delivery?: 'exactly-once' | 'at-least-once';
  /** Events per feed page. @default 1000 */
  batchSize?: number;
  /** Failed deliveries of an event before it is parked. @default 5 */
  maxAttempts?: number;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/**
 * Declares a projection: a singleton provider whose `@On(EventClass)` methods keep a read model up
 * to date from the journal's global feed, from a stored checkpoint, on one instance at a time.
 * Implement `clear(tx)` to make it rebuildable (`ProjectionAdmin.rebuild`, `npm run projection:rebuild`).
 */
export function Projection(options: ProjectionOptions): ClassDecorator {
  if (!options || typeof options.name !== 'string' || !NAME_PATTERN.test(options.name)) {
    throw new ConfigurationError(`@Projection name ${JSON.stringify(options?.name)} is invalid: use 1–100 letters, digits and . _ : -.`);
  }
  if (options.delivery !== undefined && options.delivery !== 'exactly-once' && options.delivery !== 'at-least-once') {
    throw new ConfigurationError(`@Projection('${options.name}') delivery must be 'exactly-once' or 'at-least-once', got ${JSON.stringify(options.delivery)}.`);
  }
  for (const key of ['batchSize', 'maxAttempts'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ConfigurationError(`@Projection('${options.name}') ${key} must be a positive integer, got ${String(value)}.`);
    }
  }
  return (target) => {
    Reflect.defineMetadata(PROJECTION_METADATA, { ...options }, target);
  };
}

/** The `@Projection` options of a class, or undefined. */
export function getProjectionMetadata(target: ClassType | object): ProjectionOptions | undefined {
  return Reflect.getOwnMetadata(PROJECTION_METADATA, target) as ProjectionOptions | undefined;
}
