import { afterEach, beforeEach, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import pg from 'pg';
import { On, Projection, type ChronicleStorage, type OutboxMessage, type OutboxPublisher } from '@chronicle/core';
import { CHRONICLE_STORAGE, EventSourcingModule, OutboxHandler } from '@chronicle/nestjs';
import { commitNotifyChannel, type PostgresCommitNotifications } from '@chronicle/typeorm';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted } from '../fixtures/ledger.aggregate.js';
import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';

/** Polling so slow that nothing in these tests can be explained by it: only NOTIFY wakes. */
const NEVER_MS = 3_600_000;
jest.setTimeout(30_000);

const published: string[] = [];
const totals = new Map<string, number>();

@Injectable()
@OutboxHandler({ name: 'recorder', events: [LedgerOpened, Posted] })
class Recorder implements OutboxPublisher {
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    for (const message of batch) published.push(`${message.streamId}@${message.version}`);
  }
}

@Injectable()
@Projection({ name: 'totals', delivery: 'at-least-once' })
class Totals {
  @On(LedgerOpened) opened(event: LedgerOpened): void {
    totals.set(event.ledgerId, 0);
  }
  @On(Posted) posted(event: Posted): void {
    totals.set(event.ledgerId, (totals.get(event.ledgerId) ?? 0) + event.amount);
  }
}

async function eventually(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every LISTEN statement this process sent (through `pg`, which the listening connection uses too). */
const listens: string[] = [];
const query = pg.Client.prototype.query;
function recordListens(): void {
  jest.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    if (typeof args[0] === 'string' && args[0].startsWith('LISTEN ')) listens.push(args[0]);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as never);
}

/** Whether a server process with this pid still exists. */
async function backendAlive(pid: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid]);
    return rows[0]!.n > 0;
  } finally {
    await client.end();
  }
}

await describePostgres('EventSourcingModule on PostgreSQL: one LISTEN connection serves the relay and the subscriptions', () => {
  let schema: string;
  let drop: () => Promise<void>;
  const apps: TestingModule[] = [];

  beforeEach(async () => {
    listens.length = 0;
    recordListens();
    published.length = 0;
    totals.clear();
    schema = uniqueSchemaName('chr_listen');
    drop = await createSchema(schema);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    jest.restoreAllMocks();
    await drop();
  });

  async function boot(role: 'worker' | 'writer'): Promise<TestingModule> {
    const worker = role === 'worker';
    const app = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', driver: pg, url: POSTGRES_URL, extra: { max: 4 } }),
        CqrsModule.forRoot(),
        EventSourcingModule.forRoot({
          aggregates: [Ledger],
          tables: { schema },
          outbox: { relay: worker, pollIntervalMs: NEVER_MS },
          subscriptions: { run: worker, pollIntervalMs: NEVER_MS },
        }),
      ],
      providers: [Recorder, Totals],
    }).compile();
    apps.push(app);
    await app.init();
    return app;
  }

  it('a commit made by another instance wakes both the relay and the projection through one connection', async () => {
    const worker = await boot('worker');
    const channel = commitNotifyChannel({ schema });
    expect(listens).toEqual([`LISTEN "${channel}"`]);
    const notifications = worker.get<ChronicleStorage>(CHRONICLE_STORAGE).notifications as PostgresCommitNotifications;
    expect(notifications.isListening).toBe(true);
    const pid = notifications.backendPid!;

    // The writer neither relays nor runs subscriptions: it listens to nothing, and only NOTIFY can
    // tell the worker, whose polls are an hour apart.
    const writer = await boot('writer');
    expect(listens).toHaveLength(1);
    await writer.get(CommandBus).execute(new OpenLedger('L1', 'ann'));
    await writer.get(CommandBus).execute(new Post('L1', 7));

    await eventually(() => published.includes('ledger-L1@2'), 'the relay to publish ledger-L1@2');
    await eventually(() => totals.get('L1') === 7, 'the projection to reach 7');
    expect(published).toEqual(['ledger-L1@1', 'ledger-L1@2']);

    await worker.close();
    apps.splice(apps.indexOf(worker), 1);
    await eventually(async () => !(await backendAlive(pid)), 'the listening connection to close with the application');
    expect(listens).toHaveLength(1);
  });

  /** What a LISTEN on the channel receives for one command of an app with `providers`, up to a marker sent after it. */
  async function notificationsOfOneCommand(ledgerId: string, providers: Array<new (...args: never[]) => object>): Promise<string[]> {
    const channel = commitNotifyChannel({ schema });
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    const received: string[] = [];
    client.on('notification', (message) => received.push(message.payload ?? ''));
    // A lost connection fails the awaits below; without a listener its 'error' event would crash the run.
    client.on('error', () => undefined);
    try {
      await client.query(`LISTEN "${channel}"`);
      const app = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({ type: 'postgres', driver: pg, url: POSTGRES_URL, extra: { max: 2 } }),
          CqrsModule.forRoot(),
          EventSourcingModule.forRoot({ aggregates: [Ledger], tables: { schema } }),
        ],
        providers,
      }).compile();
      apps.push(app);
      await app.init();
      await app.get(CommandBus).execute(new OpenLedger(ledgerId, 'ann'));
      // Notifications arrive in commit order: once the marker is here, the command's would be too.
      await client.query(`NOTIFY "${channel}", 'marker'`);
      await eventually(() => received.includes('marker'), 'the marker notification');
      return received;
    } finally {
      await client.end();
    }
  }

  it('commits of events alone notify where the application declares a projection or saga, and not elsewhere', async () => {
    expect(await notificationsOfOneCommand('N1', [Totals])).toEqual(['', 'marker']);
    await Promise.all(apps.splice(0).map((app) => app.close()));
    expect(await notificationsOfOneCommand('N2', [])).toEqual(['marker']);
  });
});
