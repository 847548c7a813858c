import type { LoggerService } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import pg from 'pg';
import request from 'supertest';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { CommandGateway, StartupTimeoutError, type OutboxMessage, type OutboxPublisher } from '@chronicle/core';
import { EventSourcingModule, OutboxHandler, OutboxRelayService } from '@chronicle/nestjs';
import { chronicleMigrationLockKeys, isTransientDatabaseError } from '@chronicle/typeorm';
import { Ledger, OpenLedger, Post } from '../fixtures/ledger.aggregate.js';
import { startDemo, type RunningDemo } from '../support/demo-app.js';
import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';

function proxiedUrl(port: number): string {
  const url = new URL(POSTGRES_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Every line Nest's loggers wrote, with its context. */
const lines: string[] = [];
const capture: LoggerService = {
  log: (message: unknown, context?: string) => void lines.push(`LOG [${context}] ${String(message)}`),
  warn: (message: unknown, context?: string) => void lines.push(`WARN [${context}] ${String(message)}`),
  error: (message: unknown, ...rest: unknown[]) => void lines.push(`ERROR [${String(rest.at(-1))}] ${String(message)}`),
  debug: () => undefined,
  verbose: () => undefined,
};
const retriesOf = (step: string): string[] => lines.filter((line) => line.startsWith('WARN [ChronicleStartup]') && line.includes(`"${step}" failed`));

const delivered: string[] = [];

@OutboxHandler({ name: 'startup-memo', events: '*', startFrom: 'beginning' })
class Memo implements OutboxPublisher {
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    for (const message of batch) delivered.push(`${message.aggregateId}@${message.version}`);
  }
}

await describePostgres('resilient start-up: a database that is unavailable while the application starts', () => {
  let schema: string;
  let drop: () => Promise<void>;
  const apps: TestingModule[] = [];
  const demos: RunningDemo[] = [];
  const proxies: TcpProxy[] = [];
  /** Every DataSource made, destroyed after each test: a start that failed never closes its own. */
  const dataSources: DataSource[] = [];

  beforeEach(async () => {
    lines.length = 0;
    delivered.length = 0;
    schema = uniqueSchemaName('chr_start');
    drop = await createSchema(schema);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(demos.splice(0).map((demo) => demo.close()));
    await Promise.all(dataSources.splice(0).map((dataSource) => (dataSource.isInitialized ? dataSource.destroy() : undefined)));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.stop()));
    await drop();
  });

  async function openProxy(): Promise<TcpProxy> {
    const proxy = new TcpProxy(new URL(POSTGRES_URL).hostname, Number(new URL(POSTGRES_URL).port || 5432));
    await proxy.start();
    proxies.push(proxy);
    return proxy;
  }

  /**
   * A Nest application with the ledger and an outbox handler. `afterConnect` runs once TypeORM's
   * DataSource is initialized, before any of Chronicle's start-up steps: there the test breaks the
   * database, so what is retried is Chronicle's own work, not TypeORM's connect.
   */
  async function boot(url: string, settings: { deadlineMs?: number; tablesSchema?: string; migrationsRun?: boolean; afterConnect?: () => Promise<void> } = {}): Promise<TestingModule> {
    const app = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ type: 'postgres' as const, driver: pg, url, extra: { max: 4 }, retryAttempts: 1 }),
          dataSourceFactory: async (options?: DataSourceOptions) => {
            const dataSource = new DataSource(options!);
            dataSources.push(dataSource);
            await dataSource.initialize();
            await settings.afterConnect?.();
            return dataSource;
          },
        }),
        CqrsModule.forRoot(),
        EventSourcingModule.forRoot({
          aggregates: [Ledger],
          tables: { schema: settings.tablesSchema ?? schema },
          outbox: { pollIntervalMs: 50 },
          ...(settings.migrationsRun === undefined ? {} : { migrationsRun: settings.migrationsRun }),
          ...(settings.deadlineMs === undefined ? {} : { startup: { deadlineMs: settings.deadlineMs } }),
        }),
      ],
      providers: [Memo],
    })
      // The testing module installs its own logger when it compiles: give it the capturing one.
      .setLogger(capture)
      .compile();
    apps.push(app);
    await app.init();
    return app;
  }

  async function serves(app: TestingModule, ledgerId: string): Promise<void> {
    const gateway = app.get(CommandGateway);
    await gateway.execute(new OpenLedger(ledgerId, 'Ada'));
    const result = await gateway.execute(new Post(ledgerId, 5));
    expect(result.version).toBe(2);
    await app.get(OutboxRelayService).flush();
    await waitUntil(() => delivered.includes(`${ledgerId}@2`), 10_000, 'the outbox handler to receive the events');
    expect(delivered).toEqual([`${ledgerId}@1`, `${ledgerId}@2`]);
  }

  it('the demo started while PostgreSQL refuses connections comes up once it is reachable, and serves', async () => {
    const proxy = await openProxy();
    await proxy.stop();
    let reachableAt = 0;
    let upAt = 0;
    const starting = startDemo({ databaseUrl: proxiedUrl(proxy.port), schema }).then((demo) => {
      upAt = Date.now();
      demos.push(demo);
      return demo;
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(upAt).toBe(0);
    reachableAt = Date.now();
    await proxy.start();
    const demo = await starting;
    expect(upAt).toBeGreaterThanOrEqual(reachableAt);
    const http = request(demo.url);
    const { id } = (await http.post('/accounts').send({ owner: 'Ada' }).expect(201)).body as { id: string };
    await http.post(`/accounts/${id}/deposits`).send({ amount: 25 }).expect(200);
    expect((await http.get(`/accounts/${id}`).expect(200)).body).toMatchObject({ balance: 25, version: 2 });
  }, 60_000);

  it("Chronicle's migrations retry refused connections (each retry logged once), then the app serves", async () => {
    const proxy = await openProxy();
    const app = await boot(proxiedUrl(proxy.port), {
      afterConnect: async () => {
        await proxy.stop();
        setTimeout(() => void proxy.start(), 1_500);
      },
    });
    const retries = retriesOf('Chronicle migrations');
    expect(retries.length).toBeGreaterThan(0);
    // The first attempt may get a pooled connection whose socket the cut reset (ECONNRESET); new ones are refused.
    expect(retries[0]).toMatch(/\((.*)(ECONNREFUSED|ECONNRESET)(.*)\); attempt 2 in \d+ ms\.$/);
    expect(retries.some((line) => line.includes('ECONNREFUSED'))).toBe(true);
    expect(new Set(retries).size).toBe(retries.length);
    expect(lines.some((line) => line.includes('"Chronicle migrations" succeeded on attempt'))).toBe(true);
    await serves(app, 'ledger-refused');
  }, 60_000);

  it('with migrations run elsewhere, the outbox handlers\' registration retries a database cut at start, then the app serves', async () => {
    // A first instance migrates the schema and goes; the next one starts with migrationsRun: false.
    const first = await boot(POSTGRES_URL);
    await first.close();
    apps.splice(apps.indexOf(first), 1);
    lines.length = 0;
    const proxy = await openProxy();
    const app = await boot(proxiedUrl(proxy.port), {
      migrationsRun: false,
      afterConnect: async () => {
        await proxy.stop();
        setTimeout(() => void proxy.start(), 1_500);
      },
    });
    expect(retriesOf('Chronicle migrations')).toEqual([]);
    expect(retriesOf('outbox handler registration').length).toBeGreaterThan(0);
    await serves(app, 'ledger-registration');
  }, 60_000);

  it('a migrator whose connection is terminated (57P01) while it waits for the migration lock retries, then the app serves', async () => {
    const [lockClass, lockKey] = chronicleMigrationLockKeys({ schema });
    const holder = new pg.Client({ connectionString: POSTGRES_URL });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [lockClass, lockKey]);
      const booting = boot(POSTGRES_URL);
      booting.catch(() => undefined);
      let waiter: number | undefined;
      await waitUntil(
        async () => {
          const { rows } = await holder.query<{ pid: number }>(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2",
            [lockClass >>> 0, lockKey >>> 0],
          );
          waiter = rows[0]?.pid;
          return waiter !== undefined;
        },
        20_000,
        "the migrator to wait for the holder's lock",
      );
      await holder.query('SELECT pg_terminate_backend($1)', [waiter]);
      await waitUntil(() => retriesOf('Chronicle migrations').length > 0, 10_000, 'the retry of the migrations');
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [lockClass, lockKey]);
      const app = await booting;
      expect(retriesOf('Chronicle migrations')[0]).toMatch(/terminating connection due to administrator command/);
      await serves(app, 'ledger-terminated');
    } finally {
      await holder.end();
    }
  }, 60_000);

  it('past startup.deadlineMs the start fails with StartupTimeoutError naming the step and what to check', async () => {
    const proxy = await openProxy();
    const failure = await boot(proxiedUrl(proxy.port), { deadlineMs: 1_000, afterConnect: () => proxy.stop() }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StartupTimeoutError);
    const error = failure as StartupTimeoutError;
    expect(error.step).toBe('Chronicle migrations');
    expect(error.deadlineMs).toBe(1_000);
    expect(error.attempts).toBeGreaterThan(1);
    expect(isTransientDatabaseError(error.cause)).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).toContain('startup.deadlineMs');
  }, 30_000);

  it('a non-transient error of a start-up step (a schema PostgreSQL refuses to create) fails at once, without retries', async () => {
    const failure = await boot(POSTGRES_URL, { tablesSchema: 'pg_chronicle_reserved' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).not.toBeInstanceOf(StartupTimeoutError);
    expect((failure as { code?: string }).code).toBe('42939');
    expect(retriesOf('Chronicle migrations')).toEqual([]);
  });

  it('the classification agrees with the real driver: a refused connection is transient, a missing database is not', async () => {
    const proxy = await openProxy();
    await proxy.stop();
    const refused = await new pg.Client({ connectionString: proxiedUrl(proxy.port) }).connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isTransientDatabaseError(refused)).toBe(true);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${uniqueSchemaName('chr_missing_db')}`;
    const client = new pg.Client({ connectionString: url.toString() });
    const missing = await client.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    await client.end().catch(() => undefined);
    expect((missing as { code?: string }).code).toBe('3D000');
    expect(isTransientDatabaseError(missing)).toBe(false);
  });
});
