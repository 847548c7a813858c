import { commandsPostgres, commandsSqlite } from './command-throughput.js';
import { dcb } from './dcb.js';
import { feedCatchUp } from './feed-catch-up.js';
import { memory } from './memory.js';
import { outboxLatency } from './outbox-latency.js';
import { personalDataPostgres } from './personal-data.js';
import { recovery } from './recovery.js';
import { relayThroughput } from './relay-throughput.js';
import { telemetryOverhead } from './telemetry-overhead.js';
import { transfers } from './transfers.js';
import type { Scenario } from './scenario.js';

/**
 * Every scenario, in run order: each is a module beside this one exporting a `Scenario`; the
 * runner, the JSON, the report and the summary pick it up from this list, and its targets are its
 * `TargetCheck`s.
 *
 * 1–2 commands through the CommandBus (PostgreSQL, SQLite) against a hand-written transaction;
 * 3 recovery of a long aggregate with and without snapshots; 4a/4b the outbox (commit-to-handler
 * latency, relay throughput); 5 memory under many aggregates; 6a feed catch-up into a no-op
 * subscription and a TypeORM projection against a hand-written keyset reader; 6b transfers end to
 * end through the demo application's saga against a hand-written transaction; 7 the telemetry
 * overhead (SDK on, API alone, off) on the framework-free runtime; 8 dynamic consistency boundaries
 * (conditional against plain appends, decisions, the read of a 10,000-event tag) on PostgreSQL; 9 crypto-shredding (one personal
 * field vs none) through the Nest module on PostgreSQL.
 */
export const SCENARIOS: readonly Scenario[] = [commandsPostgres, commandsSqlite, recovery, outboxLatency, relayThroughput, memory, feedCatchUp, transfers, telemetryOverhead, dcb, personalDataPostgres];
