import { ConfigurationError } from '../errors/configuration.error.js';

/** Retry timing of a handler: exponential, capped, with jitter. */
export interface OutboxBackoffOptions {
  /** Delay after the first failure. @default 1000 */
  initialMs?: number;
  /** Longest delay. @default 60000 */
  maxMs?: number;
  /** Growth per failure. @default 2 */
  multiplier?: number;
  /** Random spread as a fraction of the delay (0.2: ±20 %). @default 0.2 */
  jitter?: number;
}

/** How one outbox handler is relayed. */
export interface OutboxHandlerSettings {
  /** Unique, stable name: it is stored with every entry. */
  name: string;
  /** Event type names the handler receives, or every event. */
  events: readonly string[] | '*';
  /** Entries per claim. @default 100 */
  batchSize?: number;
  /** Failed attempts before an entry is dead-lettered. @default 10 */
  maxAttempts?: number;
  backoff?: OutboxBackoffOptions;
  /** Where a new handler starts: events from now on, or the whole journal first. @default 'now' */
  startFrom?: 'now' | 'beginning';
}

/** Settings with every default filled in. */
export interface ResolvedOutboxHandlerSettings {
  name: string;
  events: readonly string[] | '*';
  batchSize: number;
  maxAttempts: number;
  backoff: Required<OutboxBackoffOptions>;
  startFrom: 'now' | 'beginning';
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/** Fills in defaults and refuses settings that cannot work, naming the handler. */
export function resolveOutboxHandlerSettings(settings: OutboxHandlerSettings): ResolvedOutboxHandlerSettings {
  const name = settings?.name;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new ConfigurationError(`Outbox handler name ${JSON.stringify(name)} is invalid: use 1–100 letters, digits and . _ : -.`);
  }
  const resolved: ResolvedOutboxHandlerSettings = {
    name,
    events: settings.events,
    batchSize: settings.batchSize ?? 100,
    maxAttempts: settings.maxAttempts ?? 10,
    backoff: {
      initialMs: settings.backoff?.initialMs ?? 1_000,
      maxMs: settings.backoff?.maxMs ?? 60_000,
      multiplier: settings.backoff?.multiplier ?? 2,
      jitter: settings.backoff?.jitter ?? 0.2,
    },
    startFrom: settings.startFrom ?? 'now',
  };
  if (resolved.events !== '*' && (!Array.isArray(resolved.events) || resolved.events.length === 0)) {
    throw new ConfigurationError(`Outbox handler "${name}" needs events: '*' or a non-empty list of event classes or type names.`);
  }
  for (const [key, value, min] of [
    ['batchSize', resolved.batchSize, 1],
    ['maxAttempts', resolved.maxAttempts, 1],
    ['backoff.initialMs', resolved.backoff.initialMs, 0],
    ['backoff.maxMs', resolved.backoff.maxMs, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new ConfigurationError(`Outbox handler "${name}": ${key} must be an integer ≥ ${min}, got ${String(value)}.`);
    }
  }
  if (!(resolved.backoff.multiplier >= 1) || !(resolved.backoff.jitter >= 0 && resolved.backoff.jitter < 1)) {
    throw new ConfigurationError(`Outbox handler "${name}": backoff.multiplier must be ≥ 1 and backoff.jitter in [0, 1).`);
  }
  if (resolved.startFrom !== 'now' && resolved.startFrom !== 'beginning') {
    throw new ConfigurationError(`Outbox handler "${name}": startFrom must be 'now' or 'beginning'.`);
  }
  return resolved;
}

/** The delay before retry number `attempts + 1`, with jitter. */
export function backoffDelay(backoff: Required<OutboxBackoffOptions>, attempts: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.max(0, attempts - 1));
  return Math.max(0, Math.round(base * (1 + backoff.jitter * (random() * 2 - 1))));
}
