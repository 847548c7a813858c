import { ConfigurationError } from '../errors/configuration.error.js';
import type { GroupCommitOptions } from './commit-batcher.js';

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
  /** Group commit: concurrent commands to different aggregates share one transaction. */
  groupCommit?: GroupCommitOptions;
}

/** The options with their defaults filled in. */
export type ResolvedCommandGatewayOptions = Required<Omit<CommandGatewayOptions, 'groupCommit'>> & {
  groupCommit: Required<GroupCommitOptions>;
};

/** Fills in the defaults and refuses values that cannot work. */
export function resolveCommandGatewayOptions(options: CommandGatewayOptions = {}): ResolvedCommandGatewayOptions {
  const resolved: ResolvedCommandGatewayOptions = {
    cacheSize: options.cacheSize ?? 10_000,
    maxQueuePerAggregate: options.maxQueuePerAggregate ?? 1_000,
    maxPendingCommands: options.maxPendingCommands ?? 100_000,
    maxConcurrentRecoveries: options.maxConcurrentRecoveries ?? 16,
    recoveryPermitTimeoutMs: options.recoveryPermitTimeoutMs ?? 5_000,
    replayPageSize: options.replayPageSize ?? 1_000,
    conflictRetries: options.conflictRetries ?? 10,
    recentOutcomes: options.recentOutcomes ?? 10_000,
    groupCommit: {
      enabled: options.groupCommit?.enabled ?? true,
      maxBatchSize: options.groupCommit?.maxBatchSize ?? 256,
      windowMs: options.groupCommit?.windowMs ?? 0,
      maxConcurrentBatches: options.groupCommit?.maxConcurrentBatches ?? 4,
      earlyFlushSize: options.groupCommit?.earlyFlushSize ?? 'auto',
    },
  };
  for (const [key, value] of [
    ...Object.entries(resolved).filter(([key]) => key !== 'groupCommit'),
    ['groupCommit.maxBatchSize', resolved.groupCommit.maxBatchSize],
    ['groupCommit.maxConcurrentBatches', resolved.groupCommit.maxConcurrentBatches],
  ] as Array<[string, unknown]>) {
    const min = key === 'conflictRetries' || key === 'recentOutcomes' ? 0 : 1;
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
