import { AGGREGATE_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import type { JsonObject } from '../events/json.js';
import type { AggregateIdSource } from './aggregate-id-source.js';
import type { ClassType } from './class-type.js';

/** When and how to snapshot an aggregate. */
export interface SnapshotOptions<T extends object = object> {
  /** Take a snapshot whenever the version crosses a multiple of this number. */
  every: number;
  /**
   * How many snapshots to keep per stream.
   * @default 2
   */
  keep?: number;
  /**
   * Schema version of the snapshot state. Bump it when the state's shape changes: snapshots of
   * another version are ignored (with a warning) and the aggregate is rebuilt from its events.
   * @default 1
   */
  version?: number;
  /** State to store. @default the aggregate's own enumerable properties, as JSON */
  serialize?: (aggregate: T) => JsonObject;
  /** Rebuilds an aggregate from stored state. @default a new instance with the properties assigned */
  restore?: (state: JsonObject) => T;
}

/** Options of `@Aggregate`. */
export interface AggregateOptions<T extends object = object> {
  /** Stable type name: part of every stream id (`<name>-<id>`), never renamed. */
  name: string;
  /**
   * Where commands carry the target id; `@Handles` may override it per command.
   * @default 'aggregateId'
   */
  id?: AggregateIdSource;
  /** Snapshot policy; no snapshots when omitted. */
  snapshot?: SnapshotOptions<T>;
  /** Event classes the aggregate emits without applying (those with `@Applies` are included anyway). */
  events?: ClassType[];
}

const AGGREGATE_NAME_PATTERN = /^[a-z][a-z0-9_.]{0,62}$/i;

/**
 * Declares an event-sourced aggregate. It is a plain class (not a Nest provider, no base class):
 * `@Handles` methods decide, `@Applies` methods evolve state, `@Invariant` methods check it.
 * The class needs a constructor callable without arguments.
 */
export function Aggregate<T extends object>(options: AggregateOptions<T>): (target: ClassType<T>) => void {
  if (!options || typeof options.name !== 'string' || !AGGREGATE_NAME_PATTERN.test(options.name)) {
    throw new ConfigurationError(
      `@Aggregate name ${JSON.stringify(options?.name)} is invalid: use 1–63 letters, digits, _ or ., starting with a letter (no '-': it separates the name from the id in stream ids).`,
    );
  }
  const snapshot = options.snapshot;
  if (snapshot) {
    for (const [key, value] of [['every', snapshot.every], ['keep', snapshot.keep ?? 2], ['version', snapshot.version ?? 1]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new ConfigurationError(`@Aggregate('${options.name}') snapshot.${key} must be a positive integer, got ${String(value)}.`);
      }
    }
  }
  return (target) => {
    Reflect.defineMetadata(AGGREGATE_METADATA, options, target);
  };
}

/** The `@Aggregate` options of a class, or undefined when it is not an aggregate. */
export function getAggregateMetadata<T extends object>(target: ClassType<T>): AggregateOptions<T> | undefined {
  return Reflect.getOwnMetadata(AGGREGATE_METADATA, target) as AggregateOptions<T> | undefined;
}
