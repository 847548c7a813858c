import type { CommandGateway } from '../gateway/command-gateway.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { OutboxRelay } from '../outbox/outbox-relay.js';
import type { ChronicleStorage } from '../ports/chronicle-storage.port.js';
import type { Clock } from '../ports/clock.port.js';
import type { SagaStatus } from '../ports/saga-store.port.js';
import type { SubscriptionRunner } from '../subscriptions/subscription-runner.js';
import type { ChronicleTelemetry, GaugeRecorder, GaugeSpec } from './chronicle-telemetry.js';

/** Parked events and saga instances are counted up to this many per subscription, saga and status. */
export const GAUGE_COUNT_LIMIT = 10_000;
const SAGA_PAGE = 1_000;

/** The runtime's gauges, with the names dashboards rely on. */
export const RUNTIME_GAUGES: readonly GaugeSpec[] = [
  { name: 'chronicle.outbox.pending', description: 'Outbox entries not yet published nor dead-lettered, by handler.', unit: '{entry}' },
  { name: 'chronicle.outbox.oldest_age', description: 'Age of the oldest pending outbox entry, by handler (0 when none).', unit: 's' },
  { name: 'chronicle.outbox.dead_lettered', description: 'Dead-lettered outbox entries, by handler.', unit: '{entry}' },
  { name: 'chronicle.subscription.lag', description: 'Global positions between the journal head and what the subscription passed (0 on a standby instance).', unit: '{event}' },
  { name: 'chronicle.subscription.lag_seconds', description: 'Age of the last event the subscription passed while behind (0 when caught up, or on a standby instance).', unit: 's' },
  { name: 'chronicle.subscription.parked', description: 'Events the subscription set aside (failed and held behind them).', unit: '{event}' },
  { name: 'chronicle.saga.instances', description: 'Saga instances, by saga and status.', unit: '{instance}' },
  { name: 'chronicle.saga.deadlines_overdue', description: 'Saga deadlines due and not yet fired (nor parked), by saga.', unit: '{deadline}' },
  { name: 'chronicle.cache.size', description: 'Hydrated aggregates held in the gateway cache.', unit: '{aggregate}' },
  { name: 'chronicle.cache.hit_ratio', description: 'Share of commands and reads that found their aggregate cached, since the last collection (0 when there were none).', unit: '1' },
];

/** What the gauges read, all through the stores and the runtime's components. */
export interface RuntimeGaugeSources {
  storage: ChronicleStorage<unknown>;
  gateway: CommandGateway;
  relay: OutboxRelay | undefined;
  subscriptions: ReadonlyMap<string, SubscriptionRunner<unknown>>;
  sagaNames: readonly string[];
  clock: Clock;
  logger: ChronicleLogger;
}

/**
 * Registers the runtime's gauges: each collection reads the stores once (outbox stats, the
 * journal head, parked events, saga instances). Nothing here runs on a command's path.
 * Returns the function that unregisters them.
 */
export function observeRuntimeGauges(telemetry: ChronicleTelemetry, sources: RuntimeGaugeSources): () => void {
  let lastHits = 0;
  let lastMisses = 0;
  return telemetry.observeGauges(RUNTIME_GAUGES, async (record) => {
    const cache = sources.gateway.cacheStats;
    record('chronicle.cache.size', cache.size);
    const lookups = cache.hits - lastHits + (cache.misses - lastMisses);
    // 0 without lookups, as the other gauges record 0 for "nothing": left out, the series would keep
    // its last ratio (the SDK repeats an unobserved series), which reads as a cache still in use.
    record('chronicle.cache.hit_ratio', lookups > 0 ? (cache.hits - lastHits) / lookups : 0);
    lastHits = cache.hits;
    lastMisses = cache.misses;
    // One failing store must not hide the others' gauges, nor fail the exporter.
    await Promise.all([
      guard(sources, 'outbox', () => observeOutbox(sources, record)),
      guard(sources, 'subscriptions', () => observeSubscriptions(sources, record)),
      guard(sources, 'sagas', () => observeSagas(sources, record)),
    ]);
  });
}

async function guard(sources: RuntimeGaugeSources, what: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    sources.logger.warn(`The ${what} gauges were not collected: ${(error as Error).message}`);
  }
}

async function observeOutbox(sources: RuntimeGaugeSources, record: GaugeRecorder): Promise<void> {
  if (!sources.relay) return;
  const known = new Set(sources.relay.handlerNames());
  const now = sources.clock.now().getTime();
  for (const stats of await sources.storage.outbox.stats()) {
    if (!known.has(stats.handler)) continue;
    const attributes = { 'chronicle.outbox.handler': stats.handler };
    record('chronicle.outbox.pending', stats.pending, attributes);
    record('chronicle.outbox.oldest_age', stats.oldestPendingAt ? Math.max(0, (now - stats.oldestPendingAt.getTime()) / 1000) : 0, attributes);
    record('chronicle.outbox.dead_lettered', stats.deadLettered, attributes);
  }
}

async function observeSubscriptions(sources: RuntimeGaugeSources, record: GaugeRecorder): Promise<void> {
  if (sources.subscriptions.size === 0) return;
  const head = await sources.storage.journal.headPosition();
  for (const runner of sources.subscriptions.values()) {
    const attributes = { 'chronicle.subscription': runner.name };
    const parked = await sources.storage.checkpoints.parked(runner.name, { limit: GAUGE_COUNT_LIMIT });
    record('chronicle.subscription.parked', parked.length, attributes);
    // The lease holder measures the lag; a standby records 0 (`lagBehind` and `lagMs` say so) rather
    // than nothing: with cumulative temporality the SDK repeats the last value of a series left
    // unobserved, so an instance that lost the lease would report its last lag for ever.
    record('chronicle.subscription.lag', runner.lagBehind(head), attributes);
    record('chronicle.subscription.lag_seconds', runner.lagMs / 1000, attributes);
  }
}

async function observeSagas(sources: RuntimeGaugeSources, record: GaugeRecorder): Promise<void> {
  if (sources.sagaNames.length === 0) return;
  const overdue = new Map((await sources.storage.sagas.overdueDeadlines()).map((each) => [each.sagaName, each.count]));
  for (const saga of sources.sagaNames) record('chronicle.saga.deadlines_overdue', overdue.get(saga) ?? 0, { 'chronicle.saga': saga });
  const statuses: SagaStatus[] = ['active', 'completed'];
  for (const saga of sources.sagaNames) {
    for (const status of statuses) {
      let count = 0;
      let after: string | undefined;
      while (count < GAUGE_COUNT_LIMIT) {
        const page = await sources.storage.sagas.list(saga, { status, limit: SAGA_PAGE, ...(after === undefined ? {} : { after }) });
        count += page.length;
        if (page.length < SAGA_PAGE) break;
        after = page[page.length - 1]!.correlationId;
      }
      record('chronicle.saga.instances', Math.min(count, GAUGE_COUNT_LIMIT), { 'chronicle.saga': saga, 'chronicle.saga.status': status });
    }
  }
}
