import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Which external services the tests may use. `scripts/test.mjs` probes them once and passes the
 * verdict in the environment; a test file run directly probes on its own.
 *
 * In CI (`CI=true`) or with `CHRONICLE_REQUIRE_SERVICES=1` a missing service is not skipped:
 * the tests that need it run and fail.
 */
export const POSTGRES_URL = process.env.CHRONICLE_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function servicesRequired(): boolean {
  return process.env.CI === 'true' || process.env.CHRONICLE_REQUIRE_SERVICES === '1';
}

let postgresProbe: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers, else why it does not. */
export function postgresUnavailableReason(): Promise<string | undefined> {
  if (process.env.CHRONICLE_SKIP_POSTGRES) return Promise.resolve(process.env.CHRONICLE_SKIP_POSTGRES);
  postgresProbe ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return undefined;
    } catch (error) {
      return `PostgreSQL at ${POSTGRES_URL} is not reachable (${(error as Error).message})`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return postgresProbe;
}

/**
 * `describe` for tests that need PostgreSQL: skipped with the reason printed when it is missing
 * outside CI; run (and failing) when it is missing in CI.
 */
export async function describePostgres(name: string, fn: () => void): Promise<void> {
  const reason = await postgresUnavailableReason();
  if (reason && !servicesRequired()) {
    console.warn(`SKIPPED "${name}": ${reason}. Set CI=true to make this a failure.`);
    describe.skip(`${name} [skipped: ${reason}]`, fn);
    return;
  }
  describe(name, fn);
}

/** A fresh PostgreSQL schema name, so parallel test files never share tables. */
export function uniqueSchemaName(prefix = 'chr_test'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Creates a schema and returns a function that drops it with everything in it. */
export async function createSchema(schema: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`create schema if not exists "${schema}"`);
  } finally {
    await client.end();
  }
  return async () => {
    const dropper = new pg.Client({ connectionString: POSTGRES_URL });
    await dropper.connect();
    try {
      await dropper.query(`drop schema if exists "${schema}" cascade`);
    } finally {
      await dropper.end();
    }
  };
}

/** AMQP URL of the RabbitMQ the tests use. */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** URL of the NATS server the tests use. */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

let rabbitMqProbe: Promise<string | undefined> | undefined;

/** Undefined when RabbitMQ answers an AMQP handshake, else why it does not. */
export function rabbitMqUnavailableReason(): Promise<string | undefined> {
  if (process.env.CHRONICLE_SKIP_RABBITMQ) return Promise.resolve(process.env.CHRONICLE_SKIP_RABBITMQ);
  rabbitMqProbe ??= (async () => {
    // Loaded here so that test files without RabbitMQ tests never load amqplib.
    const { default: amqp } = await import('amqplib');
    try {
      const connection = await amqp.connect(AMQP_URL, { timeout: 2000 });
      await connection.close();
      return undefined;
    } catch (error) {
      return `RabbitMQ at ${redactUrl(AMQP_URL)} is not reachable (${(error as Error).message})`;
    }
  })();
  return rabbitMqProbe;
}

/** `describe` for tests that need RabbitMQ: skipped with the reason printed when it is missing outside CI. */
export async function describeRabbitMq(name: string, fn: () => void): Promise<void> {
  describeIfAvailable(name, await rabbitMqUnavailableReason(), fn);
}

let natsProbe: Promise<string | undefined> | undefined;

/** Undefined when NATS accepts a connection, else why it does not. */
export function natsUnavailableReason(): Promise<string | undefined> {
  if (process.env.CHRONICLE_SKIP_NATS) return Promise.resolve(process.env.CHRONICLE_SKIP_NATS);
  natsProbe ??= (async () => {
    const { connect } = await import('@nats-io/transport-node');
    try {
      const connection = await connect({ servers: NATS_URL, timeout: 2000, reconnect: false });
      await connection.close();
      return undefined;
    } catch (error) {
      return `NATS at ${NATS_URL} is not reachable (${(error as Error).message})`;
    }
  })();
  return natsProbe;
}

/** `describe` for tests that need NATS: skipped with the reason printed when it is missing outside CI. */
export async function describeNats(name: string, fn: () => void): Promise<void> {
  describeIfAvailable(name, await natsUnavailableReason(), fn);
}

function describeIfAvailable(name: string, reason: string | undefined, fn: () => void): void {
  if (reason && !servicesRequired()) {
    console.warn(`SKIPPED "${name}": ${reason}. Set CI=true to make this a failure.`);
    describe.skip(`${name} [skipped: ${reason}]`, fn);
    return;
  }
  describe(name, fn);
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

const probes = {
  postgres: postgresUnavailableReason,
  rabbitmq: rabbitMqUnavailableReason,
  nats: natsUnavailableReason,
} as const;

/**
 * `describe` for tests that need several services: skipped with every missing one's reason
 * printed outside CI; run (and failing) in CI.
 */
export async function describeServices(services: ReadonlyArray<keyof typeof probes>, name: string, fn: () => void): Promise<void> {
  const reasons = (await Promise.all(services.map((service) => probes[service]()))).filter((reason): reason is string => reason !== undefined);
  if (reasons.length > 0 && !servicesRequired()) {
    console.warn(`SKIPPED "${name}": ${reasons.join('; ')}. Set CI=true to make this a failure.`);
    describe.skip(`${name} [skipped: ${reasons.join('; ')}]`, fn);
    return;
  }
  describe(name, fn);
}

/** The Chromium the browser tests drive (Debian's `chromium` package); `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Undefined when the Chromium executable is there, else why it is not. */
export async function chromiumUnavailableReason(): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  try {
    await access(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch {
    return `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install -y chromium; .ci/run installs it)`;
  }
}

/**
 * `describe` for browser tests: they need Chromium, PostgreSQL and RabbitMQ. Skipped with the reason
 * printed when one is missing outside CI; run (and failing) when one is missing in CI.
 */
export async function describeBrowser(name: string, fn: () => void): Promise<void> {
  const reasons = [await chromiumUnavailableReason(), await postgresUnavailableReason(), await rabbitMqUnavailableReason()].filter(Boolean);
  describeIfAvailable(name, reasons.length ? reasons.join('; ') : undefined, fn);
}
