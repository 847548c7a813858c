import type { CommandGatewayOptions } from '@chronicle/core';

/** How the demo runs, from the environment. */
export interface DemoConfig {
  /** PostgreSQL when set (`DATABASE_URL`); otherwise the embedded SQLite file. */
  databaseUrl?: string;
  /** SQLite file. @default data/chronicle.sqlite */
  sqlitePath: string;
  /** PostgreSQL schema of Chronicle's tables (`CHRONICLE_SCHEMA`). */
  schema?: string;
  /** HTTP port. @default 3000 */
  port: number;
  /** Command gateway bounds (`CHRONICLE_MAX_QUEUE_PER_AGGREGATE`, `CHRONICLE_CACHE_SIZE`). */
  gateway?: CommandGatewayOptions;
  /** RabbitMQ (`AMQP_URL`): account events go to the topic exchange `chronicle.demo`; otherwise to the log. */
  amqpUrl?: string;
  /** Outbox relay tuning (`CHRONICLE_OUTBOX_LEASE_MS`, `CHRONICLE_OUTBOX_POLL_MS`). */
  outbox?: { leaseMs?: number; pollIntervalMs?: number; relay?: boolean };
  /** When a transfer step's outcome is unknown, wait this long before resending it (`CHRONICLE_TRANSFER_STEP_TIMEOUT_MS`). @default 30000 */
  transferStepTimeoutMs?: number;
  /** Longest wait of `GET /accounts?after=<position>` for the balances projection. @default 5000 */
  readYourWritesTimeoutMs?: number;
  /** Projections and sagas (`CHRONICLE_SUBSCRIPTION_LEASE_MS`, `CHRONICLE_SUBSCRIPTION_POLL_MS`, `CHRONICLE_RUN_SUBSCRIPTIONS=false`). */
  subscriptions?: { leaseMs?: number; pollIntervalMs?: number; run?: boolean };
  /** How long start-up waits for an unavailable database before it gives up (`CHRONICLE_STARTUP_DEADLINE_MS`). @default 60000 */
  startupDeadlineMs?: number;
  /** The operations console's access token (`CHRONICLE_CONSOLE_TOKEN`): the console is mounted at `/chronicle` only when it is set. */
  consoleToken?: string;
  /** The console shows but never acts (`CHRONICLE_CONSOLE_READ_ONLY=true`). @default false */
  consoleReadOnly?: boolean;
}

/** Reads the configuration from the environment. */
export function demoConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}".`);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    sqlitePath: env.SQLITE_PATH ?? 'data/chronicle.sqlite',
    schema: env.CHRONICLE_SCHEMA || undefined,
    port,
    amqpUrl: env.AMQP_URL || undefined,
    consoleToken: env.CHRONICLE_CONSOLE_TOKEN || undefined,
    ...(env.CHRONICLE_CONSOLE_READ_ONLY === 'true' ? { consoleReadOnly: true } : {}),
    outbox: {
      ...(env.CHRONICLE_OUTBOX_LEASE_MS ? { leaseMs: Number(env.CHRONICLE_OUTBOX_LEASE_MS) } : {}),
      ...(env.CHRONICLE_OUTBOX_POLL_MS ? { pollIntervalMs: Number(env.CHRONICLE_OUTBOX_POLL_MS) } : {}),
    },
    ...(env.CHRONICLE_STARTUP_DEADLINE_MS ? { startupDeadlineMs: Number(env.CHRONICLE_STARTUP_DEADLINE_MS) } : {}),
    ...(env.CHRONICLE_TRANSFER_STEP_TIMEOUT_MS ? { transferStepTimeoutMs: Number(env.CHRONICLE_TRANSFER_STEP_TIMEOUT_MS) } : {}),
    subscriptions: {
      ...(env.CHRONICLE_SUBSCRIPTION_LEASE_MS ? { leaseMs: Number(env.CHRONICLE_SUBSCRIPTION_LEASE_MS) } : {}),
      ...(env.CHRONICLE_SUBSCRIPTION_POLL_MS ? { pollIntervalMs: Number(env.CHRONICLE_SUBSCRIPTION_POLL_MS) } : {}),
      ...(env.CHRONICLE_RUN_SUBSCRIPTIONS === 'false' ? { run: false } : {}),
    },
    gateway: {
      ...(env.CHRONICLE_MAX_QUEUE_PER_AGGREGATE ? { maxQueuePerAggregate: Number(env.CHRONICLE_MAX_QUEUE_PER_AGGREGATE) } : {}),
      ...(env.CHRONICLE_CACHE_SIZE ? { cacheSize: Number(env.CHRONICLE_CACHE_SIZE) } : {}),
    },
  };
}
