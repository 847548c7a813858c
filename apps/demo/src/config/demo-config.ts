import type { CommandGatewayOptions, MasterKeyOptions } from '@chronicle/core';
import { demoMasterKeys, type MasterKeySource } from './demo-master-keys.js';

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
  /** Most open accounts one owner may hold (`CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER`). @default 5 */
  maxOpenAccountsPerOwner?: number;
  /** How long start-up waits for an unavailable database before it gives up (`CHRONICLE_STARTUP_DEADLINE_MS`). @default 60000 */
  startupDeadlineMs?: number;
  /** OpenTelemetry SDK of the demo process; off when neither exporter is asked for. */
  telemetry?: DemoTelemetryConfig;
  /** The master keys of the owners' data keys (`CHRONICLE_MASTER_KEY`; see `demoMasterKeys`). */
  masterKeys: MasterKeyOptions;
  /** Where the master key came from; anything but `environment` is logged as a warning at start. */
  masterKeySource?: MasterKeySource;
  /** The development key file, when the key came from one. */
  masterKeyFile?: string;
  /** The operations console's access token (`CHRONICLE_CONSOLE_TOKEN`): the console is mounted at `/chronicle` only when it is set. */
  consoleToken?: string;
  /** The console shows but never acts (`CHRONICLE_CONSOLE_READ_ONLY=true`). @default false */
  consoleReadOnly?: boolean;
  /**
   * Express's `trust proxy` setting (`CHRONICLE_TRUST_PROXY`): `true`, a number of proxy hops, or
   * the proxies' addresses or subnets (`loopback`, `10.0.0.0/8`, comma-separated). Behind a
   * TLS-terminating proxy it makes `X-Forwarded-Proto: https` count, so the console marks its
   * session cookie `Secure`. Trust only the proxy in front of the demo: a client reaching it
   * directly could otherwise claim HTTPS and another address.
   * @default unset: no proxy trusted
   */
  trustProxy?: boolean | number | string;
}

/** Which OpenTelemetry exporters the demo starts (see `startDemoTelemetry`). */
export interface DemoTelemetryConfig {
  /**
   * Base URL of an OTLP/HTTP receiver (`OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://localhost:4318`):
   * traces go to `<url>/v1/traces`, metrics to `<url>/v1/metrics`.
   */
  otlpEndpoint?: string;
  /** `prometheus` (`CHRONICLE_METRICS=prometheus`): serve `GET /metrics` in Prometheus' text format. */
  metrics?: 'prometheus';
  /** How often metrics are pushed over OTLP (`OTEL_METRIC_EXPORT_INTERVAL`). @default 60000 */
  metricExportIntervalMs?: number;
  /** `service.name` of the traces and metrics (`OTEL_SERVICE_NAME`). @default 'chronicle-demo' */
  serviceName?: string;
}

/** The telemetry settings in the environment; a `CHRONICLE_METRICS` other than `prometheus` is refused by name. */
export function demoTelemetryFromEnv(env: NodeJS.ProcessEnv): DemoTelemetryConfig | undefined {
  const metrics = env.CHRONICLE_METRICS || undefined;
  if (metrics !== undefined && metrics !== 'prometheus') {
    throw new Error(`CHRONICLE_METRICS must be "prometheus" (or unset), got "${metrics}".`);
  }
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  if (otlpEndpoint !== undefined && !/^https?:\/\//.test(otlpEndpoint)) {
    throw new Error(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL (an OTLP/HTTP receiver), got "${otlpEndpoint}".`);
  }
  if (!metrics && !otlpEndpoint) return undefined;
  const interval = env.OTEL_METRIC_EXPORT_INTERVAL ? Number(env.OTEL_METRIC_EXPORT_INTERVAL) : undefined;
  if (interval !== undefined && !(Number.isInteger(interval) && interval > 0)) {
    throw new Error(`OTEL_METRIC_EXPORT_INTERVAL must be a positive number of milliseconds, got "${env.OTEL_METRIC_EXPORT_INTERVAL}".`);
  }
  return {
    ...(otlpEndpoint ? { otlpEndpoint } : {}),
    ...(metrics ? { metrics } : {}),
    ...(interval ? { metricExportIntervalMs: interval } : {}),
    ...(env.OTEL_SERVICE_NAME ? { serviceName: env.OTEL_SERVICE_NAME } : {}),
  };
}

/** `CHRONICLE_TRUST_PROXY` as Express's `trust proxy` value (`true`/`false`, a hop count, or addresses); unset or empty trusts no proxy. */
export function demoTrustProxyFromEnv(env: NodeJS.ProcessEnv): boolean | number | string | undefined {
  const value = env.CHRONICLE_TRUST_PROXY?.trim();
  if (!value) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  // Addresses and subnets: Express (proxy-addr) checks them when the setting is applied.
  return value;
}

/** Reads the configuration from the environment. */
export function demoConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const port = Number(env.PORT ?? 3000);
  const telemetry = demoTelemetryFromEnv(env);
  const trustProxy = demoTrustProxyFromEnv(env);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}".`);
  const maxOpen = env.CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER;
  if (maxOpen !== undefined && maxOpen !== '' && !(/^\d+$/.test(maxOpen) && Number.isSafeInteger(Number(maxOpen)) && Number(maxOpen) >= 1)) {
    throw new Error(`CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER must be a positive integer, got "${maxOpen}".`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  const sqlitePath = env.SQLITE_PATH ?? 'data/chronicle.sqlite';
  const keys = demoMasterKeys(env, { databaseUrl, sqlitePath });
  return {
    ...(maxOpen ? { maxOpenAccountsPerOwner: Number(maxOpen) } : {}),
    databaseUrl,
    sqlitePath,
    masterKeys: keys.masterKeys,
    masterKeySource: keys.source,
    ...(keys.file ? { masterKeyFile: keys.file } : {}),
    schema: env.CHRONICLE_SCHEMA || undefined,
    port,
    amqpUrl: env.AMQP_URL || undefined,
    consoleToken: env.CHRONICLE_CONSOLE_TOKEN || undefined,
    ...(env.CHRONICLE_CONSOLE_READ_ONLY === 'true' ? { consoleReadOnly: true } : {}),
    ...(trustProxy === undefined ? {} : { trustProxy }),
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
    ...(telemetry ? { telemetry } : {}),
    gateway: {
      ...(env.CHRONICLE_MAX_QUEUE_PER_AGGREGATE ? { maxQueuePerAggregate: Number(env.CHRONICLE_MAX_QUEUE_PER_AGGREGATE) } : {}),
      ...(env.CHRONICLE_CACHE_SIZE ? { cacheSize: Number(env.CHRONICLE_CACHE_SIZE) } : {}),
    },
  };
}
