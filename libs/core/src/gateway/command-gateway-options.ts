import { ConfigurationError } from '../errors/configuration.error.js';
import { GROUP_COMMIT_DEFAULTS, type GroupCommitOptions } from './commit-batcher.js';

/** Tuning of the command gateway. Every bound turns overload into a named error instead of memory growth. */
export interface CommandGatewayOptions {
  /**
   * Most hydrated aggregates kept in memory (least recently used are evicted).
   * @default 10000
   */
  cacheSize?: number;
  /**
   * Most commands queued or running for one aggregate; more fail with `GatewayOverloadedError`.
   * @default 1000
   */
  maxQueuePerAggregate?: number;
  /**
   * Most commands queued or running in the gateway; more fail with `GatewayOverloadedError`.
   * @default 100000
   */
  maxPendingCommands?: number;
  /**
   * Most aggregate recoveries (snapshot + replay) running at once.
   * @default 16
   */
  maxConcurrentRecoveries?: number;
  /**
   * How long a command waits for a recovery permit before failing with `GatewayOverloadedError`.
   * @default 5000
   */
  recoveryPermitTimeoutMs?: number;
  /**
   * Events read per page while replaying a stream.
   * @default 1000
   */
  replayPageSize?: number;
  /**
   * How often a command without an expected version is retried after another writer changed its
   * aggregate first (each retry reloads the aggregate and decides again, after a short random pause).
   * @default 10
   */
  conflictRetries?: number;
  /**
   * Outcomes of recent command ids kept in memory, so a retry in this process needs no read.
   * @default 10000
   */
  recentOutcomes?: number;
  /**
   * Most decision states kept in memory (least recently used are dropped): what a decision handler
   * folded from its query's events and where that read ended, so that the next decision on the same
   * query reads only the events committed since. Only states of plain data are kept (primitives,
   * arrays, plain objects, `Map`s with primitive keys, `Set`s of primitives, `Date`s: a class instance
   * is folded afresh each time), never one folded from events with `@PersonalData` fields; 0 turns it off.
   * It relies on what event sourcing asks of every fold: `initialState` and the `@Evolves` methods
   * depend on the state and the event alone (no clock, configuration or handler fields read while
   * folding), since a kept state is not folded again. A journal emptied or replaced under a running
   * process needs `clearDecisionStates()` (a kept cursor the journal refuses is read afresh).
   * Kept states hold what their folds keep (bounded by count, not size).
   * @default 10000
   */
  decisionCacheSize?: number;
  /** Group commit: concurrent commands to different aggregates share one transaction. */
  groupCommit?: GroupCommitOptions;
}

/** The gateway's defaults (group commit's are `GROUP_COMMIT_DEFAULTS`). */
export const COMMAND_GATEWAY_DEFAULTS = {
  cacheSize: 10_000,
  maxQueuePerAggregate: 1_000,
  maxPendingCommands: 100_000,
  maxConcurrentRecoveries: 16,
  recoveryPermitTimeoutMs: 5_000,
  replayPageSize: 1_000,
  conflictRetries: 10,
  recentOutcomes: 10_000,
  decisionCacheSize: 10_000,
} as const satisfies Required<Omit<CommandGatewayOptions, 'groupCommit'>>;

/**
 * How long recorded command outcomes are kept for idempotent retries, and how often the older ones
 * are pruned (`CommandGateway.pruneCommandOutcomes`, run on a schedule by the Nest module).
 */
export const COMMAND_OUTCOME_DEFAULTS = {
  /** 7 days. */
  retentionMs: 604_800_000,
  /** 1 hour. */
  pruneIntervalMs: 3_600_000,
} as const;

/** The options with their defaults filled in. */
export type ResolvedCommandGatewayOptions = Required<Omit<CommandGatewayOptions, 'groupCommit'>> & {
  groupCommit: Required<GroupCommitOptions>;
};

/** Fills in the defaults and refuses values that cannot work. */
export function resolveCommandGatewayOptions(options: CommandGatewayOptions = {}): ResolvedCommandGatewayOptions {
  const resolved: ResolvedCommandGatewayOptions = {
    cacheSize: options.cacheSize ?? COMMAND_GATEWAY_DEFAULTS.cacheSize,
    maxQueuePerAggregate: options.maxQueuePerAggregate ?? COMMAND_GATEWAY_DEFAULTS.maxQueuePerAggregate,
    maxPendingCommands: options.maxPendingCommands ?? COMMAND_GATEWAY_DEFAULTS.maxPendingCommands,
    maxConcurrentRecoveries: options.maxConcurrentRecoveries ?? COMMAND_GATEWAY_DEFAULTS.maxConcurrentRecoveries,
    recoveryPermitTimeoutMs: options.recoveryPermitTimeoutMs ?? COMMAND_GATEWAY_DEFAULTS.recoveryPermitTimeoutMs,
    replayPageSize: options.replayPageSize ?? COMMAND_GATEWAY_DEFAULTS.replayPageSize,
    conflictRetries: options.conflictRetries ?? COMMAND_GATEWAY_DEFAULTS.conflictRetries,
    recentOutcomes: options.recentOutcomes ?? COMMAND_GATEWAY_DEFAULTS.recentOutcomes,
    decisionCacheSize: options.decisionCacheSize ?? COMMAND_GATEWAY_DEFAULTS.decisionCacheSize,
    groupCommit: {
      enabled: options.groupCommit?.enabled ?? GROUP_COMMIT_DEFAULTS.enabled,
      maxBatchSize: options.groupCommit?.maxBatchSize ?? GROUP_COMMIT_DEFAULTS.maxBatchSize,
      windowMs: options.groupCommit?.windowMs ?? GROUP_COMMIT_DEFAULTS.windowMs,
      maxConcurrentBatches: options.groupCommit?.maxConcurrentBatches ?? GROUP_COMMIT_DEFAULTS.maxConcurrentBatches,
      earlyFlushSize: options.groupCommit?.earlyFlushSize ?? GROUP_COMMIT_DEFAULTS.earlyFlushSize,
    },
  };
  for (const [key, value] of [
    ...Object.entries(resolved).filter(([key]) => key !== 'groupCommit'),
    ['groupCommit.maxBatchSize', resolved.groupCommit.maxBatchSize],
    ['groupCommit.maxConcurrentBatches', resolved.groupCommit.maxConcurrentBatches],
  ] as Array<[string, unknown]>) {
    const min = key === 'conflictRetries' || key === 'recentOutcomes' || key === 'decisionCacheSize' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new ConfigurationError(`Command gateway option ${key} must be an integer ≥ ${min}, got ${String(value)}.`);
    }
  }
  const { earlyFlushSize } = resolved.groupCommit;
  if (earlyFlushSize !== 'auto' && (typeof earlyFlushSize !== 'number' || !Number.isInteger(earlyFlushSize) || earlyFlushSize < 0)) {
    throw new ConfigurationError(`Command gateway option groupCommit.earlyFlushSize must be 'auto' or an integer ≥ 0, got ${String(earlyFlushSize)}.`);
  }
  const { windowMs } = resolved.groupCommit;
  if (!Number.isInteger(windowMs) || windowMs < 0) {
    throw new ConfigurationError(`Command gateway option groupCommit.windowMs must be an integer ≥ 0, got ${String(windowMs)}.`);
  }
  return resolved;
}
