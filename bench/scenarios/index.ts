import { commandsPostgres, commandsSqlite } from './command-throughput.js';
import { memory } from './memory.js';
import { outboxLatency } from './outbox-latency.js';
import { recovery } from './recovery.js';
import { relayThroughput } from './relay-throughput.js';
import type { Scenario } from './scenario.js';

/**
 * Every scenario, in run order.
 *
 * Extension point (issue item 6, projections and sagas): add a module beside these that exports a
 * `Scenario` — e.g. `projection-lag.ts` (events/s applied by a @Projection and its lag behind the
 * feed) and `saga-throughput.ts` (transfers/s through a @Saga) — and list it here. The runner,
 * the JSON, the report and the summary pick it up; its targets go in its `TargetCheck`s. Until
 * those features exist there is deliberately no scenario and no figure for them.
 */
export const SCENARIOS: readonly Scenario[] = [commandsPostgres, commandsSqlite, recovery, outboxLatency, relayThroughput, memory];
