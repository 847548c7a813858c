import { ConfigurationError } from '../errors/configuration.error.js';
import { COMMAND_OUTCOME_DEFAULTS, type CommandGatewayOptions } from '../gateway/command-gateway-options.js';
import { OUTBOX_RELAY_DEFAULTS } from '../outbox/outbox-relay.js';
import { SAGA_DEADLINE_DEFAULTS } from '../sagas/saga-deadline-runner.js';
import { SAGA_DEFAULTS } from '../sagas/saga-engine.js';
import { SUBSCRIPTION_DEFAULTS } from '../subscriptions/subscription-options.js';

/** How a Chronicle runtime relays its outbox handlers. */
export interface ChronicleOutboxOptions {
  /** Relay in this instance; with `false` it still writes the entries of its handlers. @default true */
  relay?: boolean;
  /** Polling period of each handler (the fallback when no wake-up arrives). @default 1000 */
  pollIntervalMs?: number;
  /** Lease of a claimed batch; extended while a slow publish runs. @default 30000 */
  leaseMs?: number;
  /** Wake the relay on the storage's notifications. @default true */
  listen?: boolean;
  /** How long published entries are kept. @default 604800000 (7 days) */
  retentionMs?: number;
  /** How often published entries past retention are deleted (0 disables it). @default 3600000 */
  pruneIntervalMs?: number;
}

/** How a Chronicle runtime runs its projections, sagas and saga deadlines. */
export interface ChronicleSubscriptionOptions {
  /** Run them in this instance (one active runner per subscription across instances). @default true */
  run?: boolean;
  /** Polling period of each subscription (the fallback when no wake-up arrives). @default 1000 */
  pollIntervalMs?: number;
  /** Lease of a subscription; another instance takes it over this long after its holder died. @default 10000 */
  leaseMs?: number;
  /** Wake subscriptions on the storage's notifications. @default true */
  listen?: boolean;
  /** Saga instances whose events one saga handles at once. @default 16 */
  sagaConcurrency?: number;
  /** Polling period of saga deadlines. @default 1000 */
  deadlinePollIntervalMs?: number;
  /** How long completed saga instances stay as tombstones. @default 604800000 (7 days) */
  sagaRetentionMs?: number;
  /** How often completed saga instances past retention are deleted (0 disables it). @default 3600000 */
  pruneIntervalMs?: number;
}

/** Runtime settings of `createChronicle`. */
export interface ChronicleOptions {
  /** Run the storage's migrations in `start()` (under its lock). Turn off when they run as a deployment step. @default true */
  migrate?: boolean;
  /** Queue bounds, cache size, recovery permits and group commit of the command gateway. */
  gateway?: CommandGatewayOptions;
  /** How long recorded command outcomes are kept for idempotent retries. @default 604800000 (7 days) */
  commandRetentionMs?: number;
  /** How often command outcomes past retention are pruned (0 disables it). @default 3600000 */
  pruneIntervalMs?: number;
  outbox?: ChronicleOutboxOptions;
  subscriptions?: ChronicleSubscriptionOptions;
  /**
   * Load `@opentelemetry/api` in `start()` when it is installed, and record spans and metrics
   * through whatever SDK the application registered. Off, or without the package, telemetry is a
   * no-op. Ignored when `createChronicle` is given a `telemetry` of its own.
   * @default true
   */
  telemetry?: boolean;
}

/** The options with every default filled in, resolved once by `createChronicle`. */
export interface ResolvedChronicleOptions {
  migrate: boolean;
  gateway: CommandGatewayOptions;
  commandRetentionMs: number;
  pruneIntervalMs: number;
  outbox: Required<ChronicleOutboxOptions>;
  subscriptions: Required<ChronicleSubscriptionOptions>;
  telemetry: boolean;
}

function check(path: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigurationError(`Chronicle option ${path} must be an integer ≥ ${min}, got ${String(value)}.`);
  }
  return value;
}

/** Fills in every default (the `*_DEFAULTS` constants) and refuses values that cannot work. */
export function resolveChronicleOptions(options: ChronicleOptions = {}): ResolvedChronicleOptions {
  const outbox = options.outbox ?? {};
  const subscriptions = options.subscriptions ?? {};
  return {
    migrate: options.migrate ?? true,
    telemetry: options.telemetry ?? true,
    gateway: options.gateway ?? {},
    commandRetentionMs: check('commandRetentionMs', options.commandRetentionMs ?? COMMAND_OUTCOME_DEFAULTS.retentionMs, 0),
    pruneIntervalMs: check('pruneIntervalMs', options.pruneIntervalMs ?? COMMAND_OUTCOME_DEFAULTS.pruneIntervalMs, 0),
    outbox: {
      relay: outbox.relay ?? true,
      pollIntervalMs: check('outbox.pollIntervalMs', outbox.pollIntervalMs ?? OUTBOX_RELAY_DEFAULTS.pollIntervalMs, 1),
      leaseMs: check('outbox.leaseMs', outbox.leaseMs ?? OUTBOX_RELAY_DEFAULTS.leaseMs, 1),
      listen: outbox.listen ?? true,
      retentionMs: check('outbox.retentionMs', outbox.retentionMs ?? OUTBOX_RELAY_DEFAULTS.retentionMs, 0),
      pruneIntervalMs: check('outbox.pruneIntervalMs', outbox.pruneIntervalMs ?? OUTBOX_RELAY_DEFAULTS.pruneIntervalMs, 0),
    },
    subscriptions: {
      run: subscriptions.run ?? true,
      pollIntervalMs: check('subscriptions.pollIntervalMs', subscriptions.pollIntervalMs ?? SUBSCRIPTION_DEFAULTS.pollIntervalMs, 1),
      leaseMs: check('subscriptions.leaseMs', subscriptions.leaseMs ?? SUBSCRIPTION_DEFAULTS.leaseMs, 1),
      listen: subscriptions.listen ?? true,
      sagaConcurrency: check('subscriptions.sagaConcurrency', subscriptions.sagaConcurrency ?? SAGA_DEFAULTS.concurrency, 1),
      deadlinePollIntervalMs: check(
        'subscriptions.deadlinePollIntervalMs',
        subscriptions.deadlinePollIntervalMs ?? SAGA_DEADLINE_DEFAULTS.pollIntervalMs,
        1,
      ),
      sagaRetentionMs: check('subscriptions.sagaRetentionMs', subscriptions.sagaRetentionMs ?? SAGA_DEFAULTS.retentionMs, 0),
      pruneIntervalMs: check('subscriptions.pruneIntervalMs', subscriptions.pruneIntervalMs ?? SAGA_DEFAULTS.pruneIntervalMs, 0),
    },
  };
}
