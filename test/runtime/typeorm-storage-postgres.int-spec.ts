import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import {
  createChronicle,
  On,
  OutboxHandler,
  Projection,
  type Chronicle,
  type ChronicleLogger,
  type OutboxMessage,
  type OutboxPublisher,
} from '@chronicle/core';
import { commitNotifyChannel, createTypeOrmStorage, type TypeOrmStorage } from '@chronicle/typeorm';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted } from '../fixtures/ledger.aggregate.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const silent = (): ChronicleLogger => ({ log: () => undefined, warn: () => undefined, error: () => undefined });
/** Polling so slow that nothing in these tests can be explained by it: only NOTIFY wakes. */
const NEVER_MS = 3_600_000;
jest.setTimeout(30_000);

@OutboxHandler({ name: 'recorder', events: [LedgerOpened, Posted] })
class Recorder implements OutboxPublisher {
  readonly published: string[] = [];
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    for (const message of batch) this.published.push(`${message.streamId}@${message.version}`);
  }
}

@Projection({ name: 'totals', delivery: 'at-least-once' })
class Totals {
  readonly totals = new Map<string, number>();
  @On(LedgerOpened) opened(event: LedgerOpened): void {
    this.totals.set(event.ledgerId, 0);
  }
  @On(Posted) posted(event: Posted): void {
    this.totals.set(event.ledgerId, (this.totals.get(event.ledgerId) ?? 0) + event.amount);
  }
}

async function eventually(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function listeners(applicationName: string): Promise<Array<{ pid: number }>> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    return rows;
  } finally {
    await client.end();
  }
}

async function terminate(pid: number): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await client.end();
  }
}

await describePostgres('createTypeOrmStorage on PostgreSQL: one LISTEN connection per instance', () => {
  let database: TestDatabase;
  let runtimes: Chronicle<unknown>[];

  beforeEach(async () => {
    database = await openPostgresSchema();
    runtimes = [];
  });

  afterEach(async () => {
    for (const runtime of runtimes) await runtime.stop();
    await database.close();
  });

  it('opens one listening connection for the relay and the subscriptions, woken by another instance\'s commits, and reopens it when lost', async () => {
    const applicationName = `chr-runtime-${randomBytes(4).toString('hex')}`;
    const storage: TypeOrmStorage = createTypeOrmStorage(database.dataSource, { ...database.tables, listenerApplicationName: applicationName, logger: silent() });
    expect(storage.channel).toBe(commitNotifyChannel(database.tables));
    const recorder = new Recorder();
    const totals = new Totals();
    const worker = createChronicle({
      storage,
      aggregates: [Ledger],
      outboxHandlers: [recorder],
      projections: [totals],
      logger: silent,
      options: { outbox: { pollIntervalMs: NEVER_MS }, subscriptions: { pollIntervalMs: NEVER_MS } },
    });
    runtimes.push(worker as Chronicle<unknown>);
    // The writer is another instance (its own pool): its commits reach the worker only by NOTIFY.
    // It knows the handler (so its commits write the handler's entries) but does not relay.
    const writer = createChronicle({
      storage: createTypeOrmStorage(await database.openAnother(), { ...database.tables, listenerApplicationName: applicationName }),
      aggregates: [Ledger],
      outboxHandlers: [new Recorder()],
      logger: silent,
      options: { outbox: { relay: false } },
    });
    runtimes.push(writer as Chronicle<unknown>);
    expect(await listeners(applicationName)).toHaveLength(0); // building it opened nothing

    await worker.start();
    await writer.start();
    const opened = await listeners(applicationName);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.pid).toBe(storage.notifications!.backendPid);

    await writer.execute(new OpenLedger('l1', 'ann'));
    await writer.execute(new Post('l1', 5));
    await eventually(() => recorder.published.length === 2, 'the relay to publish both events');
    await eventually(() => totals.totals.get('l1') === 5, 'the projection to see both events');
    expect(recorder.published).toEqual(['ledger-l1@1', 'ledger-l1@2']);

    // Lost connection: the listener comes back on a new connection, still one, and wakes both again.
    const pid = storage.notifications!.backendPid!;
    await terminate(pid);
    await eventually(() => storage.notifications!.isListening && storage.notifications!.backendPid !== pid, 'the listener to reconnect');
    await writer.execute(new Post('l1', 7));
    await eventually(() => recorder.published.length === 3, 'the relay to publish after the reconnect');
    await eventually(() => totals.totals.get('l1') === 12, 'the projection to catch up after the reconnect');
    expect(await listeners(applicationName)).toHaveLength(1);

    await worker.stop();
    expect(await listeners(applicationName)).toHaveLength(0);
    expect(worker.timerCount).toBe(0);
  });

  it('gives each instance its own single connection (two workers: two connections, not four)', async () => {
    const applicationName = `chr-runtime-${randomBytes(4).toString('hex')}`;
    for (let i = 0; i < 2; i++) {
      const dataSource = i === 0 ? database.dataSource : await database.openAnother();
      const runtime = createChronicle({
        storage: createTypeOrmStorage(dataSource, { ...database.tables, listenerApplicationName: applicationName, logger: silent() }),
        aggregates: [Ledger],
        outboxHandlers: [new Recorder()],
        projections: [new Totals()],
        logger: silent,
      });
      runtimes.push(runtime as Chronicle<unknown>);
      await runtime.start();
    }
    expect(await listeners(applicationName)).toHaveLength(2);
  });
});
