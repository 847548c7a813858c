import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it, jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import pg from 'pg';
import { Chronicle, On, Projection, type ChronicleStorage, type NewEvent, type OutboxMessage, type OutboxPublisher } from '@chronicle/core';
import { CHRONICLE_STORAGE, EventSourcingModule, OutboxHandler } from '@chronicle/nestjs';
import { commitNotifyChannel, TypeOrmJournal, TypeOrmOutboxStore, type PostgresCommitNotifications } from '@chronicle/typeorm';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted } from '../fixtures/ledger.aggregate.js';
import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';

/** Polling so slow that nothing in these tests can be explained by it: only NOTIFY wakes. */
const NEVER_MS = 3_600_000;
/** Long enough for a notification sent at a commit, and the wake-up it brings, to be over on this machine. */
const SETTLE_MS = 400;
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

/** A `ledger.posted` event as the serializer writes it, for a unit appended without the gateway. */
function postedEvent(ledgerId: string, amount: number): NewEvent {
  return { eventId: randomUUID(), type: 'ledger.posted', schemaVersion: 1, payload: { ledgerId, amount }, metadata: {}, tags: [], occurredAt: new Date() };
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

  it("wakes an instance once for its own command (the notification that comes back carries its origin and is skipped), and still for a unit appended beside its gateway", async () => {
    const worker = await boot('worker');
    const writer = await boot('writer');
    const reads = jest.spyOn(TypeOrmJournal.prototype, 'readAll');
    const claims = jest.spyOn(TypeOrmOutboxStore.prototype, 'claim');
    /** The feed reads and outbox claims of the worker (its polls are an hour apart) for one command. */
    async function wakeUpsOf(app: TestingModule, command: object, ledgerId: string, total: number, ledgerVersion: number): Promise<{ reads: number; claims: number }> {
      // Whatever the last command woke is over: nothing is read or claimed any more.
      for (let quiet = -1; quiet !== reads.mock.calls.length + claims.mock.calls.length; ) {
        quiet = reads.mock.calls.length + claims.mock.calls.length;
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      }
      reads.mockClear();
      claims.mockClear();
      await app.get(CommandBus).execute(command);
      await eventually(() => totals.get(ledgerId) === total && published.includes(`ledger-${ledgerId}@${ledgerVersion}`), `${ledgerId} at ${total}`);
      // The notification of the commit arrives within this, and any wake-up it would bring.
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      return { reads: reads.mock.calls.length, claims: claims.mock.calls.length };
    }

    await writer.get(CommandBus).execute(new OpenLedger('W1', 'ann'));
    await eventually(() => totals.get('W1') === 0 && published.includes('ledger-W1@1'), 'W1 opened');
    // Another instance's commit wakes the worker through NOTIFY alone: one run of each job.
    const other = await wakeUpsOf(writer, new Post('W1', 3), 'W1', 3, 2);
    expect(other.reads).toBe(1);
    // Its own commit: woken by its gateway's listener, and the NOTIFY with its origin skipped. It
    // used to run each job twice (a second feed read and claim for nothing).
    const own = await wakeUpsOf(worker, new Post('W1', 4), 'W1', 7, 3);
    expect(own).toEqual(other);

    // A unit its journal writes outside the gateway carries no origin: the NOTIFY still wakes it.
    const storage = worker.get<ChronicleStorage>(CHRONICLE_STORAGE);
    const version = await storage.journal.streamVersion('ledger-W1');
    await storage.journal.append({
      writes: [{ streamId: 'ledger-W1', aggregateType: 'Ledger', expectedVersion: version, events: [postedEvent('W1', 10)] }],
    });
    await eventually(() => totals.get('W1') === 17, 'the projection to see the unit appended beside the gateway');
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
      origins.push(app.get(Chronicle).origin);
      await app.get(CommandBus).execute(new OpenLedger(ledgerId, 'ann'));
      // Notifications arrive in commit order: once the marker is here, the command's would be too.
      await client.query(`NOTIFY "${channel}", 'marker'`);
      await eventually(() => received.includes('marker'), 'the marker notification');
      return received;
    } finally {
      await client.end();
    }
  }

  /** The origin of each app `notificationsOfOneCommand` booted, in order. */
  const origins: string[] = [];

  it('commits of events alone notify where the application declares a projection or saga, and not elsewhere', async () => {
    origins.length = 0;
    // The payload is the committing runtime's origin: its own listener skips it.
    expect(await notificationsOfOneCommand('N1', [Totals])).toEqual([origins[0], 'marker']);
    expect(origins[0]).toMatch(/^[0-9a-f-]{36}$/);
    await Promise.all(apps.splice(0).map((app) => app.close()));
    expect(await notificationsOfOneCommand('N2', [])).toEqual(['marker']);
  });
});
