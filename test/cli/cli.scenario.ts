import { expect, it } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import type { ChronicleStorage } from '@chronicle/core';
import { runChronicleCli, type CliOutput } from '@chronicle/console';
import type {
  CliCommandJson,
  CliErrorJson,
  CliEventJson,
  CliOutboxEntryJson,
  CliOutboxStatsJson,
  CliPageJson,
  CliParkedEventJson,
  CliParkedRedriveJson,
  CliRebuildJson,
  CliRedriveJson,
  CliSagaInstanceJson,
  CliSagaJson,
  CliSagaSummaryJson,
  CliStatusJson,
  CliStreamEventsJson,
  CliStreamJson,
} from '@chronicle/console';
import { Deposit, OpenTill, createTotalsTable, tillChronicle, totalsTable } from './fixtures/till.fixture.js';

/** What one CLI run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A fresh, migrated database for one scenario. */
export interface CliDatabase {
  storage: ChronicleStorage<EntityManager>;
  /** PostgreSQL schema of every table, undefined on SQLite. */
  schema?: string;
  /** How the CLI reaches it: DATABASE_URL (`sqlite:<file>` or `postgres://…`), and the till app's own setting. */
  env: Record<string, string>;
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

const collector = (): CliOutput & { text: string } => {
  const out = { text: '', isTTY: false, write: (chunk: string) => ((out.text += chunk), true) };
  return out;
};

/** Runs the CLI in this process, as the `chronicle` bin would with these arguments and environment. */
export async function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const stdout = collector();
  const stderr = collector();
  const code = await runChronicleCli(args, { stdout, stderr, env, cwd: process.cwd() });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function json<T>(run: CliRun): T {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** Polls `check` until it holds (or fails after `ms`): the runtime's relay and runners work in the background. */
async function eventually(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Seeds a database through the real runtime (three tills, deposits, one poisoned; the outbox
 * handler failing so that each till's first entry is dead-lettered; a saga per till), stops it
 * (the application is down), and returns the stream ids.
 */
export async function seedTills(database: CliDatabase): Promise<{ streams: string[] }> {
  await database.storage.migrate();
  await createTotalsTable((sql) => database.query(sql), database.schema);
  const { chronicle } = tillChronicle(database.storage, database.schema === undefined ? {} : { schema: database.schema });
  await chronicle.start();
  try {
    const opened = [];
    opened.push(await chronicle.execute(new OpenTill('t1'), { commandId: 'cmd-open-t1', correlationId: 'corr-t1' }));
    opened.push(await chronicle.execute(new OpenTill('t2')));
    opened.push(await chronicle.execute(new OpenTill('t3')));
    await chronicle.execute(new Deposit('t1', 100));
    await chronicle.execute(new Deposit('t1', 50, '\u001b[2J\u001b[31mred alert\u001b[0m <script>alert(1)</script>'));
    await chronicle.execute(new Deposit('t2', 30));
    await chronicle.execute(new Deposit('t3', 5, 'poison'));
    await chronicle.execute(new Deposit('t2', 7));
    const { storage } = database;
    await eventually(async () => (await storage.outbox.stats('till-feed'))[0]?.deadLettered === 3, 'each till\'s first entry dead-lettered');
    await eventually(async () => (await storage.checkpoints.parked('projection:till-totals')).length === 1, 'the poisoned deposit parked');
    await eventually(async () => (await storage.sagas.list('till-watch', { status: 'active' })).length === 3, 'three sagas');
    const head = await storage.journal.headPosition();
    await eventually(async () => {
      const checkpoint = await storage.checkpoints.load('projection:till-totals');
      const after = await storage.journal.readAll(checkpoint?.position ?? null, 1);
      return head > 0 && after.events.length === 0;
    }, 'the projection caught up');
    return { streams: opened.map((result) => result.streamId) };
  } finally {
    await chronicle.stop();
  }
}

async function totals(database: CliDatabase): Promise<Record<string, number>> {
  const rows = await database.query(`SELECT till_id, total FROM ${totalsTable(database.schema)} ORDER BY till_id`);
  return Object.fromEntries(rows.map((row) => [String(row.till_id), Number(row.total)]));
}

/** The CLI against one database, with the application down: the same scenario on SQLite and PostgreSQL. */
export function cliScenario(open: () => Promise<CliDatabase>): void {
  it('reads status, streams, events, the feed, dead letters, parked events, sagas and outcomes as tables and as --json', async () => {
    const database = await open();
    try {
      const { streams } = await seedTills(database);
      const env = database.env;

      // status
      const status = json<CliStatusJson>(await cli(['status', '--json'], env));
      expect(Object.keys(status).sort()).toEqual(['at', 'feedBlocker', 'headPosition', 'outbox', 'runtime', 'sagas', 'subscriptions', 'throughput']);
      expect(status.runtime).toBe('absent');
      expect(status.headPosition).toBeGreaterThanOrEqual(8);
      expect(status.throughput.lastHour).toEqual({ count: 8, atLeast: false });
      expect(status.outbox).toEqual([{ handler: 'till-feed', pending: 5, leased: 0, deadLettered: 3, oldestPendingAt: expect.any(String) }]);
      const projection = status.subscriptions.find((subscription) => subscription.name === 'projection:till-totals');
      expect(projection).toEqual({
        name: 'projection:till-totals',
        kind: 'projection',
        shortName: 'till-totals',
        position: expect.any(String),
        lag: { count: 0, atLeast: false },
        oldestUnreadAt: null,
        leaseOwner: null, // the application is down: nobody holds the lease
        leaseUntil: null,
        parked: { count: 1, atLeast: false },
        lastError: expect.any(String),
        updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        rebuildable: false,
      });
      expect(status.sagas).toEqual([{ saga: 'till-watch', active: { count: 3, atLeast: false }, completed: { count: 0, atLeast: false }, overdueDeadlines: 0 }]);
      const statusTable = await cli(['status'], env);
      expect(statusTable.code).toBe(0);
      expect(statusTable.stdout).toMatch(/│ till-feed\s+│ 5\s+│ 0\s+│ 3\s+│/);
      expect(statusTable.stdout).toContain('projection:till-totals');
      expect(statusTable.stdout).toMatch(/│ till-watch\s+│ 3\s+│ 0\s+│ 0\s+│/);

      // streams, paged
      const first = json<CliPageJson<CliStreamJson, string>>(await cli(['streams', '--type', 'till', '--limit', '2', '--json'], env));
      expect(first.items).toHaveLength(2);
      expect(first.next).toBe(first.items[1]!.streamId);
      const second = json<CliPageJson<CliStreamJson, string>>(await cli(['streams', '--type', 'till', '--after', first.next!, '--json'], env));
      expect(second).toEqual({ items: [expect.objectContaining({ aggregateType: 'till', version: expect.any(Number) })], next: null });
      expect([...first.items, ...second.items].map((stream) => stream.streamId).sort()).toEqual([...streams].sort());
      const exact = json<CliPageJson<CliStreamJson, string>>(await cli(['streams', '--q', streams[0]!, '--json'], env));
      expect(exact.items).toEqual([{ streamId: streams[0], aggregateType: 'till', version: 3, deletedUpTo: 0 }]);
      expect((await cli(['streams', '--type', 'till'], env)).stdout).toContain(streams[2]);
      expect(json<CliPageJson<CliStreamJson, string>>(await cli(['streams', '--type', 'nothing', '--json'], env)).items).toEqual([]);

      // events of a stream, with metadata; payloads shown inert in tables
      const events = json<CliStreamEventsJson>(await cli(['events', streams[0]!, '--json'], env));
      expect(events.stream).toEqual({ streamId: streams[0], aggregateType: 'till', version: 3, deletedUpTo: 0 });
      expect(events.next).toBeNull();
      expect(events.items.map((event) => [event.version, event.type])).toEqual([[1, 'till.opened'], [2, 'till.deposited'], [3, 'till.deposited']]);
      expect(Object.keys(events.items[0]!).sort()).toEqual(['aggregateType', 'eventId', 'metadata', 'occurredAt', 'payload', 'position', 'schemaVersion', 'streamId', 'tags', 'type', 'version']);
      expect(events.items[0]!.metadata).toMatchObject({ commandId: 'cmd-open-t1', correlationId: 'corr-t1' });
      expect(events.items[1]!.payload).toEqual({ tillId: 't1', amount: 100, note: '' });
      const paged = json<CliStreamEventsJson>(await cli(['events', streams[0]!, '--from', '2', '--limit', '1', '--json'], env));
      expect(paged.items.map((event) => event.version)).toEqual([2]);
      expect(paged.next).toBe(3);
      const eventsTable = await cli(['events', streams[0]!], env);
      expect(eventsTable.stdout).toContain('till.deposited');
      expect(eventsTable.stdout).toMatch(/│ command cmd-open-t1\s+│/);
      expect(eventsTable.stdout).toMatch(/│ correlation corr-t1\s+│/);
      // The escape sequences of the payload are printed as text, never sent to the terminal.
      expect(eventsTable.stdout).not.toContain('\u001b');
      expect(eventsTable.stdout).toContain('\\u001b[2J');

      // the feed, newest first
      const feed = json<CliPageJson<CliEventJson, number>>(await cli(['feed', '--limit', '2', '--json'], env));
      expect(feed.items.map((event) => event.payload)).toEqual([{ tillId: 't2', amount: 7, note: '' }, { tillId: 't3', amount: 5, note: 'poison' }]);
      expect(feed.next).toBe(feed.items[1]!.position);
      const older = json<CliPageJson<CliEventJson, number>>(await cli(['feed', '--before', String(feed.next), '--limit', '200', '--json'], env));
      expect(older.items).toHaveLength(6);
      expect(older.next).toBeNull();

      // the outbox and its dead letters
      expect(json<CliOutboxStatsJson[]>(await cli(['outbox', '--handler', 'till-feed', '--json'], env))).toEqual([status.outbox[0]]);
      const dead = json<CliPageJson<CliOutboxEntryJson, number>>(await cli(['outbox', '--dead', '--json'], env));
      expect(dead.items).toHaveLength(3);
      expect(dead.items[0]).toMatchObject({ handler: 'till-feed', eventType: 'till.opened', attempts: 1, lastError: expect.stringContaining('the broker refused the message'), deadLetteredAt: expect.any(String) });
      expect(dead.next).toBeNull();
      const deadPage = json<CliPageJson<CliOutboxEntryJson, number>>(await cli(['outbox', '--dead', '--handler', 'till-feed', '--limit', '2', '--json'], env));
      expect(deadPage.items.map((entry) => entry.id)).toEqual(dead.items.slice(0, 2).map((entry) => entry.id));
      expect(deadPage.next).toBe(2);
      const deadTable = await cli(['outbox', '--dead'], env);
      expect(deadTable.stdout).toContain(dead.items[0]!.id);
      expect(deadTable.stdout).toContain('the broker refused');

      // parked events (the bare projection name is enough when it is unambiguous)
      const parked = json<CliPageJson<CliParkedEventJson, number>>(await cli(['parked', 'till-totals', '--json'], env));
      expect(parked).toEqual({
        items: [expect.objectContaining({ subscription: 'projection:till-totals', streamId: streams[2], version: 2, type: 'till.deposited', reason: 'failed', error: expect.stringContaining('poison'), redriveRequestedAt: null })],
        next: null,
      });
      expect((await cli(['parked', 'projection:till-totals'], env)).stdout).toContain('this deposit cannot be counted');

      // sagas
      expect(json<CliSagaSummaryJson[]>(await cli(['sagas', '--json'], env))).toEqual(status.sagas);
      const instances = json<CliPageJson<CliSagaInstanceJson, string>>(await cli(['sagas', '--saga', 'till-watch', '--status', 'active', '--limit', '2', '--json'], env));
      expect(instances.items.map((instance) => instance.correlationId)).toEqual(['t1', 't2']);
      expect(instances.next).toBe('t2');
      const saga = json<CliSagaJson>(await cli(['saga', 'till-watch', 't1', '--json'], env));
      expect(saga.instance).toMatchObject({ sagaName: 'till-watch', correlationId: 't1', status: 'active', endedAt: null, state: { tillId: 't1' } });
      expect(saga.deadlines).toEqual([expect.objectContaining({ name: 'audit', payload: { tillId: 't1' }, attempts: 0, parkedAt: null })]);
      const sagaTable = await cli(['saga', 'till-watch', 't1'], env);
      expect(sagaTable.stdout).toContain('audit');
      expect(sagaTable.stdout).not.toContain('\u001b');

      // a command's outcome
      const outcome = json<CliCommandJson>(await cli(['command', 'cmd-open-t1', '--json'], env));
      expect(Object.keys(outcome).sort()).toEqual(['aggregateType', 'commandId', 'cursor', 'error', 'fromVersion', 'outcome', 'recordedAt', 'streamId', 'toVersion']);
      expect(outcome).toMatchObject({
        commandId: 'cmd-open-t1',
        streamId: streams[0],
        aggregateType: 'till',
        recordedAt: expect.any(String),
        outcome: 'accepted',
        fromVersion: 1,
        toVersion: 1,
        error: null,
      });
      expect((await cli(['command', 'cmd-open-t1'], env)).stdout).toMatch(/│ outcome\s+│ accepted\s+│/);
    } finally {
      await database.close();
    }
  });

  it('re-drives dead letters and parked events in the store, and rebuilds a projection back to its totals with a progress bar', async () => {
    const database = await open();
    try {
      const { streams } = await seedTills(database);
      const env = database.env;
      const { storage } = database;

      // One dead letter by id, then the rest with --all: the store's rows become pending again.
      const [target] = await storage.outbox.deadLetters('till-feed', 10);
      const one = json<CliRedriveJson>(await cli(['redrive', 'till-feed', target!.id, '--json'], env));
      expect(one).toEqual({ handler: 'till-feed', requested: [target!.id], redriven: 1 });
      expect((await storage.outbox.deadLetters('till-feed', 10)).map((entry) => entry.id)).not.toContain(target!.id);
      expect((await storage.outbox.stats('till-feed'))[0]).toMatchObject({ deadLettered: 2, pending: 6 });
      const rest = await cli(['redrive', 'till-feed', '--all'], env);
      expect(rest.code).toBe(0);
      expect(rest.stdout).toContain('2 dead-lettered entries of "till-feed" made pending again');
      expect((await storage.outbox.stats('till-feed'))[0]).toMatchObject({ deadLettered: 0, pending: 8 });

      // Entries a relay holds: by whom and until when.
      expect(json<CliPageJson<CliOutboxEntryJson, number>>(await cli(['outbox', '--leased', '--json'], env))).toEqual({ items: [], next: null });
      const claimed = await storage.outbox.claim('till-feed', 'relay-under-test', { limit: 2, leaseMs: 60_000 });
      expect(claimed).toHaveLength(2);
      const leased = json<CliPageJson<CliOutboxEntryJson, number>>(await cli(['outbox', '--leased', '--handler', 'till-feed', '--json'], env));
      expect(leased.items.map((entry) => entry.id).sort()).toEqual(claimed.map((entry) => entry.id).sort());
      expect(leased.items[0]).toMatchObject({ leaseOwner: 'relay-under-test', leaseUntil: expect.any(String), deadLetteredAt: null });
      expect((await cli(['outbox', '--leased'], env)).stdout).toMatch(/│ relay-under-test\s+│/);
      await storage.outbox.release('till-feed', 'relay-under-test');

      // A parked event's re-drive is requested in the store (the running instance delivers it).
      const asked = json<CliParkedRedriveJson>(await cli(['redrive-parked', 'till-totals', '--stream', streams[2]!, '--json'], env));
      expect(asked).toEqual({ subscription: 'projection:till-totals', streamId: streams[2], redriven: 1 });
      expect((await storage.checkpoints.parked('projection:till-totals'))[0]!.redriveRequestedAt).toBeInstanceOf(Date);

      // The read model is damaged; a rebuild through the application's code (--app) restores it.
      expect(await totals(database)).toEqual({ t1: 150, t2: 37, t3: 0 });
      await database.query(`UPDATE ${totalsTable(database.schema)} SET total = -1`);
      await database.query(`DELETE FROM ${totalsTable(database.schema)} WHERE till_id = 't2'`);
      const rebuilt = await cli(['rebuild', 'till-totals', '--app', 'test/cli/fixtures/till-cli.app.ts'], env);
      expect(rebuilt.stderr).toMatch(/100% \| 8\/≈8 events \| 7 handled \| 1 parked/);
      expect(rebuilt.stdout).toMatch(/^Projection "till-totals" rebuilt in [\d.]+ s: 8 events read, 7 handled, 1 parked; it now stands at \S+\.\n$/);
      expect(rebuilt.code).toBe(0);
      expect(await totals(database)).toEqual({ t1: 150, t2: 37, t3: 0 });

      await database.query(`DELETE FROM ${totalsTable(database.schema)}`);
      const asJson = json<CliRebuildJson>(await cli(['rebuild', 'projection:till-totals', '--app', 'test/cli/fixtures/till-cli.app.ts', '--no-progress', '--json'], env));
      expect(asJson).toEqual({ projection: 'till-totals', read: 8, handled: 7, parked: 1, position: expect.any(String), total: expect.any(Number), startedAt: expect.any(String), finishedAt: expect.any(String) });
      expect(await totals(database)).toEqual({ t1: 150, t2: 37, t3: 0 });
      // With --app, status knows the projection can be rebuilt.
      const status = json<CliStatusJson>(await cli(['status', '--json', '--app', 'test/cli/fixtures/till-cli.app.ts'], env));
      expect(status.subscriptions.find((subscription) => subscription.name === 'projection:till-totals')?.rebuildable).toBe(true);

      const unknown = await cli(['rebuild', 'nope', '--app', 'test/cli/fixtures/till-cli.app.ts'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^OperationsNotFoundError: No projection "nope" was found/);
    } finally {
      await database.close();
    }
  });

  it('refuses bad arguments with exit code 2 and unknown ids with exit code 1, each with a message that names them', async () => {
    const database = await open();
    try {
      await database.storage.migrate();
      const env = database.env;
      const usage = async (args: string[], message: RegExp | string, runEnv = env): Promise<void> => {
        const run = await cli(args, runEnv);
        expect({ args, code: run.code }).toEqual({ args, code: 2 });
        expect(run.stderr).toMatch(message);
        expect(run.stdout).toBe('');
      };
      await usage(['bogus'], /unknown command 'bogus'/);
      await usage(['events'], /missing required argument 'stream'/);
      await usage(['streams', '--limit', '0'], /option '--limit <n>' argument '0' is invalid\. expected an integer of at least 1/);
      await usage(['streams', '--limit', 'ten'], /argument 'ten' is invalid/);
      await usage(['streams', '--limit', '500'], /InvalidArgumentError: pageSize must be an integer from 1 to 200, got 500/);
      await usage(['sagas', '--saga', 'till-watch', '--status', 'paused'], /argument 'paused' is invalid\. Allowed choices are active, completed/);
      await usage(['sagas', '--status', 'active'], /add --saga <name>/);
      await usage(['redrive', 'till-feed'], /or pass --all/);
      await usage(['redrive', 'till-feed', 'some-id', '--all'], /either entry ids or --all/);
      await usage(['redrive-parked', 'till-totals'], /--stream <streamId> to re-drive one stream, or --all/);
      await usage(['outbox', '--page', '2'], /add --dead or --leased/);
      await usage(['outbox', '--dead', '--leased'], /--dead or --leased, not both/);
      await usage(['rebuild', 'till-totals'], /needs the projection's code: pass --app <file>/);
      await usage(['status'], /Say which database to read: set DATABASE_URL/, {});
      await usage(['status'], /is not one the CLI reads/, { DATABASE_URL: 'mysql://root:pw@h/db' });
      await usage(['status', '--data-source', 'no/such/file.js'], /--data-source no\/such\/file\.js: no such file/);
      await usage(['rebuild', 'x', '--app', 'no/such/app.js'], /--app no\/such\/app\.js: no such file/);

      const jsonError = await cli(['streams', '--limit', '0', '--json'], env);
      expect(jsonError.code).toBe(2);
      expect(JSON.parse(jsonError.stderr) as CliErrorJson).toEqual({
        error: { name: 'CliUsageError', code: 'commander.invalidArgument', message: expect.stringContaining("'0' is invalid"), exitCode: 2 },
      });

      const notFound = async (args: string[], message: RegExp): Promise<void> => {
        const run = await cli(args, env);
        expect({ args, code: run.code }).toEqual({ args, code: 1 });
        expect(run.stderr).toMatch(message);
      };
      await notFound(['events', 'till-nobody'], /^OperationsNotFoundError: No stream "till-nobody" was found/);
      await notFound(['command', 'no-such-command'], /^OperationsNotFoundError: No command "no-such-command" was found/);
      await notFound(['redrive', 'no-such-handler', '--all'], /No outbox handler "no-such-handler"/);
      await notFound(['outbox', '--dead', '--handler', 'no-such-handler'], /No outbox handler "no-such-handler"/);
      await notFound(['parked', 'projection:nope'], /No subscription "projection:nope"/);
      await notFound(['saga', 'till-watch', 'nobody'], /No saga instance "till-watch\/nobody"/);

      // A database that does not answer is a failure (1), named without its password.
      const down = await cli(['status'], { DATABASE_URL: 'postgres://ops:hunter2@127.0.0.1:1/nowhere' });
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/^ConfigurationError: Could not open postgres:\/\/ops:\*\*\*@127\.0\.0\.1:1\/nowhere: /);
      expect(down.stderr).not.toContain('hunter2');
      // An id echoed back is shown with its control characters escaped.
      const hostile = await cli(['events', 'x\u001b[2Jy'], env);
      expect(hostile.code).toBe(1);
      expect(hostile.stderr).toContain('No stream "x\\x1b[2Jy" was found');

      const help = await cli(['--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: chronicle [options] [command]');
      for (const command of ['status', 'streams', 'events', 'feed', 'outbox', 'redrive', 'subscriptions', 'parked', 'redrive-parked', 'rebuild', 'sagas', 'saga', 'command']) {
        expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
      }
    } finally {
      await database.close();
    }
  });

  it('reads the database of a --data-source file as TypeORM\'s CLI does', async () => {
    const database = await open();
    try {
      await seedTills(database);
      process.env.TILL_DATABASE = database.env.TILL_DATABASE;
      if (database.schema) process.env.CHRONICLE_SCHEMA = database.schema;
      // No DATABASE_URL and no CHRONICLE_SCHEMA: the DataSource (and its schema) is all the CLI has.
      const run = await cli(['outbox', '--json', '--data-source', 'test/cli/fixtures/till-data-source.ts'], {});
      expect(json<CliOutboxStatsJson[]>(run)).toEqual([expect.objectContaining({ handler: 'till-feed', deadLettered: 3 })]);
    } finally {
      delete process.env.TILL_DATABASE;
      delete process.env.CHRONICLE_SCHEMA;
      await database.close();
    }
  });
}
