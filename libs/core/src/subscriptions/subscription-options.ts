import { ConfigurationError } from '../errors/configuration.error.js';

/** How a subscription runner reads, retries and holds its lease. */
export interface SubscriptionOptions {
  /** Unique, stable name: the checkpoint is stored under it. */
  name: string;
  /** Identifies this runner in leases. @default newLeaseOwnerId() (host:pid:uuid8) */
  owner?: string;
  /** Events read per feed page. @default 1000 */
  batchSize?: number;
  /** Events handled per checkpoint transaction at most. @default 500 (or batchSize, if smaller) */
  commitEvery?: number;
  /**
   * Events handled at once, for a handler with `partitionKey`: the runner then pipelines (an event
   * starts once a handler is free and no earlier event of its partition is uncommitted; the
   * handled events commit in feed order, at most `commitEvery` per transaction, never two of one
   * partition in one transaction).
   * @default 1
   */
  concurrency?: number;
  /** Lease of the subscription; renewed at half-life while the runner works. @default 10000 */
  leaseMs?: number;
  /** Failed deliveries of one event before it is parked. @default 5 */
  maxAttempts?: number;
  /** Wait after the first failure; it doubles per failure. @default 100 */
  backoffInitialMs?: number;
  /** Longest wait between two attempts. @default 5000 */
  backoffMaxMs?: number;
}

/**
 * A subscription runner's defaults, the one place they are written, and how often whatever drives
 * the runners (the Nest module today) wakes each one when no notification arrives.
 */
export const SUBSCRIPTION_DEFAULTS = {
  batchSize: 1_000,
  /** Capped at `batchSize`. */
  commitEvery: 500,
  concurrency: 1,
  leaseMs: 10_000,
  maxAttempts: 5,
  backoffInitialMs: 100,
  backoffMaxMs: 5_000,
  pollIntervalMs: 1_000,
} as const;

/** Options with every default filled in. */
export type ResolvedSubscriptionOptions = Required<Omit<SubscriptionOptions, 'owner'>>;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,149}$/;

/** Fills in defaults and refuses options that cannot work, naming the subscription. */
export function resolveSubscriptionOptions(options: SubscriptionOptions): ResolvedSubscriptionOptions {
  const name = options?.name;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ConfigurationError(`Subscription name ${JSON.stringify(name)} is invalid: use 1–150 letters, digits and . _ : @ -.`);
  }
  const batchSize = options.batchSize ?? SUBSCRIPTION_DEFAULTS.batchSize;
  const resolved: ResolvedSubscriptionOptions = {
    name,
    batchSize,
    commitEvery: options.commitEvery ?? Math.min(batchSize, SUBSCRIPTION_DEFAULTS.commitEvery),
    concurrency: options.concurrency ?? SUBSCRIPTION_DEFAULTS.concurrency,
    leaseMs: options.leaseMs ?? SUBSCRIPTION_DEFAULTS.leaseMs,
    maxAttempts: options.maxAttempts ?? SUBSCRIPTION_DEFAULTS.maxAttempts,
    backoffInitialMs: options.backoffInitialMs ?? SUBSCRIPTION_DEFAULTS.backoffInitialMs,
    backoffMaxMs: options.backoffMaxMs ?? SUBSCRIPTION_DEFAULTS.backoffMaxMs,
  };
  for (const key of ['batchSize', 'commitEvery', 'concurrency', 'leaseMs', 'maxAttempts'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) {
      throw new ConfigurationError(`Subscription "${name}": ${key} must be a positive integer, got ${String(resolved[key])}.`);
    }
  }
  for (const key of ['backoffInitialMs', 'backoffMaxMs'] as const) {
    if (!Number.isFinite(resolved[key]) || resolved[key] < 0) {
      throw new ConfigurationError(`Subscription "${name}": ${key} must be a number >= 0, got ${String(resolved[key])}.`);
    }
  }
  return resolved;
}
