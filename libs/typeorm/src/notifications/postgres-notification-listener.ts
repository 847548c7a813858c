import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { ConfigurationError, consoleLogger } from '@chronicle/core';
import type { ChronicleLogger } from '@chronicle/core';
import { postgresDialect } from '../dialects/postgres.dialect.js';

/** Options of {@link PostgresNotificationListener}. */
export interface PostgresNotificationListenerOptions {
  /** The channel to LISTEN on (for the outbox: `TypeOrmOutboxStore.notifyChannel`). */
  channel: string;
  /** Called with each notification's payload ('' when it has none). Errors it throws are logged. */
  onNotification: (payload: string) => void;
  /**
   * Called each time listening resumes after the connection was lost (not on the first start):
   * notifications sent meanwhile are gone, so poll for anything missed.
   */
  onReconnect?: () => void;
  /** Where connection losses and failed reconnects are reported. @default consoleLogger('PostgresNotificationListener') */
  logger?: ChronicleLogger;
  /** First wait before reconnecting; it doubles per failed attempt. @default 100 */
  reconnectInitialDelayMs?: number;
  /** Longest wait between reconnect attempts. @default 10000 */
  reconnectMaxDelayMs?: number;
  /** `application_name` of the listening connection, as `pg_stat_activity` shows it. @default 'chronicle-listener' */
  applicationName?: string;
}

/** The connection settings TypeORM's PostgreSQL driver reads (a structural subset of its options). */
interface PostgresCredentials {
  url?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string | (() => string) | (() => Promise<string>);
  database?: string;
  ssl?: pg.ClientConfig['ssl'];
}

/** The part of the `pg` module the listener uses. */
interface PgModule {
  Client: typeof pg.Client;
}

interface PostgresDataSourceOptions extends PostgresCredentials {
  type: string;
  connectTimeoutMS?: number;
  extra?: Record<string, unknown>;
  replication?: { master: PostgresCredentials };
  driver?: unknown;
}

/**
 * LISTENs on one PostgreSQL channel over a dedicated connection, opened from the DataSource's
 * connection settings but outside its pool: a pooled connection would be handed to other work
 * and would not stay subscribed.
 *
 * When the connection fails or ends (a server restart, `pg_terminate_backend`, a network cut
 * noticed by TCP keep-alive) it reconnects with exponential backoff and calls `onReconnect`, since
 * notifications sent in between are lost. Notifications are a wake-up only: keep polling as the
 * fallback. `start` never fails for connection problems (it keeps retrying in the background);
 * `stop` ends the connection and leaves no timer behind.
 *
 * `pg` is taken from the DataSource (its `driver` option, or the module TypeORM loaded) and only
 * imported when neither has it: nothing loads it on SQLite.
 */
export class PostgresNotificationListener {
  private readonly logger: ChronicleLogger;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private started = false;
  private stopped = false;
  private pid: number | undefined;
  private pg: PgModule | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: PostgresNotificationListenerOptions,
  ) {
    if (dataSource.options.type !== 'postgres') {
      throw new ConfigurationError(
        `PostgresNotificationListener needs a "postgres" DataSource, not "${dataSource.options.type}"; on SQLite rely on polling.`,
      );
    }
    if (typeof options.channel !== 'string' || options.channel.length === 0) {
      throw new ConfigurationError('PostgresNotificationListener needs a non-empty channel name.');
    }
    this.logger = options.logger ?? consoleLogger(PostgresNotificationListener.name);
    this.initialDelayMs = options.reconnectInitialDelayMs ?? 100;
    this.maxDelayMs = options.reconnectMaxDelayMs ?? 10_000;
    this.delayMs = this.initialDelayMs;
  }

  /** Whether the connection is up and listening right now. */
  get isListening(): boolean {
    return this.pid !== undefined;
  }

  /** The server process id of the listening connection, while it listens. */
  get backendPid(): number | undefined {
    return this.pid;
  }

  /**
   * Connects and LISTENs. Resolves once the first attempt is over: listening, or (when it failed,
   * which is logged) retrying in the background. Calling it again does nothing.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.pg = await loadPg(this.dataSource);
    await this.connect(false);
  }

  /** Stops listening: cancels a pending reconnect, waits for one in progress, ends the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.connecting;
    await this.drop();
  }

  private connect(reconnect: boolean): Promise<void> {
    this.connecting = this.attempt(reconnect).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async attempt(reconnect: boolean): Promise<void> {
    const client = this.createClient(this.pg!);
    this.client = client;
    // Attached before connecting: an 'error' event without a listener would crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== this.options.channel) return;
      try {
        this.options.onNotification(message.payload ?? '');
      } catch (error) {
        this.logger.error(`A notification handler of channel "${this.options.channel}" threw: ${describe(error)}`);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${postgresDialect.quoteIdentifier(this.options.channel)}`);
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (this.stopped || this.client !== client) {
        await endQuietly(client);
        return;
      }
      this.pid = rows[0]?.pid;
      this.delayMs = this.initialDelayMs;
    } catch (error) {
      if (this.client === client) this.client = undefined;
      await endQuietly(client);
      if (this.stopped) return;
      this.logger.warn(`Listening on channel "${this.options.channel}" failed (${describe(error)}); retrying in ${this.delayMs} ms.`);
      this.schedule();
      return;
    }
    if (reconnect) {
      try {
        this.options.onReconnect?.();
      } catch (error) {
        this.logger.error(`The reconnect handler of channel "${this.options.channel}" threw: ${describe(error)}`);
      }
    }
  }

  /** The current connection failed or ended: drop it and reconnect (once, however many events say so). */
  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.pid = undefined;
    void endQuietly(client);
    if (this.stopped || this.connecting !== undefined) return;
    this.logger.warn(
      `Lost the connection listening on channel "${this.options.channel}" (${describe(error)}); reconnecting in ${this.delayMs} ms.`,
    );
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) void this.connect(true);
    }, delay);
    // A pending reconnect alone must not keep the process alive.
    this.timer.unref();
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.pid = undefined;
    if (client !== undefined) await endQuietly(client);
  }

  private createClient({ Client }: PgModule): pg.Client {
    const options = this.dataSource.options as unknown as PostgresDataSourceOptions;
    const credentials: PostgresCredentials = options.replication?.master ?? options;
    // The settings TypeORM gives its pool, with `extra` as it does, and TCP keep-alive so a silent
    // network cut is noticed.
    return new Client({
      ...(options.extra ?? {}),
      ...(credentials.url === undefined ? {} : { connectionString: credentials.url }),
      ...(credentials.host === undefined ? {} : { host: credentials.host }),
      ...(credentials.port === undefined ? {} : { port: credentials.port }),
      ...(credentials.username === undefined ? {} : { user: credentials.username }),
      ...(credentials.password === undefined ? {} : { password: credentials.password }),
      ...(credentials.database === undefined ? {} : { database: credentials.database }),
      ...(credentials.ssl === undefined ? {} : { ssl: credentials.ssl }),
      ...(options.connectTimeoutMS === undefined ? {} : { connectionTimeoutMillis: options.connectTimeoutMS }),
      application_name: this.options.applicationName ?? 'chronicle-listener',
      keepAlive: true,
    });
  }
}

/**
 * The `pg` module: the DataSource's `driver` option, else the one TypeORM's PostgreSQL driver
 * loaded, else a dynamic import (an optional peer dependency: named in the error when missing).
 */
async function loadPg(dataSource: DataSource): Promise<PgModule> {
  const given = (dataSource.options as unknown as PostgresDataSourceOptions).driver as Partial<PgModule> | undefined;
  if (typeof given?.Client === 'function') return given as PgModule;
  const loaded = (dataSource.driver as unknown as { postgres?: Partial<PgModule> } | undefined)?.postgres;
  if (typeof loaded?.Client === 'function') return loaded as PgModule;
  try {
    const imported = (await import('pg')) as unknown as { default?: PgModule } & Partial<PgModule>;
    return imported.default ?? (imported as PgModule);
  } catch (error) {
    throw new ConfigurationError(
      `PostgresNotificationListener needs the "pg" package, which could not be loaded (${describe(error)}): install it with \`npm install pg\`.`,
      { cause: error },
    );
  }
}

async function endQuietly(client: pg.Client): Promise<void> {
  // Ending a connection that already failed can fail too; there is nothing left to clean up then.
  await client.end().catch(() => undefined);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
