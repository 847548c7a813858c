import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ConcurrencyError, type NewEvent, type StreamWrite } from '@chronicle/core';
import {
  outboxNotifyChannel,
  PostgresNotificationListener,
  runChronicleMigrations,
  TypeOrmJournal,
  TypeOrmOutboxStore,
} from '@chronicle/typeorm';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

/** Long enough for a notification sent at a commit to have arrived on this machine. */
const SETTLE_MS = 300;

function event(type = 'thing.happened'): NewEvent {
  return { eventId: randomUUID(), type, schemaVersion: 1, payload: {}, metadata: {}, tags: [], occurredAt: new Date() };
}

function write(streamId: string, expectedVersion: number, count: number, type?: string): StreamWrite {
  return { streamId, aggregateType: 'thing', expectedVersion, events: Array.from({ length: count }, () => event(type)) };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The test database's URL, through a local port (a proxy). */
function proxiedUrl(port: number): string {
  const url = new URL(POSTGRES_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

describe('outboxNotifyChannel', () => {
  it('is chronicle_outbox by default and carries a configured schema and prefix', () => {
    expect(outboxNotifyChannel()).toBe('chronicle_outbox');
    expect(outboxNotifyChannel({ tablePrefix: 'es_' })).toBe('es_outbox');
    expect(outboxNotifyChannel({ schema: 'billing' })).toBe('billing.chronicle_outbox');
    const long = outboxNotifyChannel({ schema: 's'.repeat(60) });
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^chronicle_outbox_[0-9a-f]{16}$/);
    expect(outboxNotifyChannel({ schema: 's'.repeat(60), tablePrefix: 'x_' })).not.toBe(long);
  });
});

await describePostgres('Outbox NOTIFY and the notification listener on PostgreSQL', () => {
  let database: TestDatabase;
  let journal: TypeOrmJournal;
  let store: TypeOrmOutboxStore;
  let listener: PostgresNotificationListener;
  let received: string[];
  let reconnects: number;
  let applicationName: string;
  const warnings: string[] = [];

  beforeEach(async () => {
    database = await openPostgresSchema();
    journal = new TypeOrmJournal(database.dataSource, database.tables);
    store = new TypeOrmOutboxStore(database.dataSource, database.tables);
    journal.addParticipant(store);
    await store.subscribe([
      { handler: 'relay', events: ['thing.happened'], startFrom: 'now' },
      { handler: 'audit', events: '*', startFrom: 'now' },
    ]);
    received = [];
    reconnects = 0;
    warnings.length = 0;
    applicationName = `chronicle-listener-test-${randomUUID().slice(0, 8)}`;
    listener = new PostgresNotificationListener(database.dataSource, {
      channel: store.notifyChannel,
      onNotification: (payload) => received.push(payload),
      onReconnect: () => reconnects++,
      reconnectInitialDelayMs: 20,
      applicationName,
      logger: { log: () => undefined, warn: (message) => warnings.push(message), error: (message) => warnings.push(message) },
    });
    await listener.start();
  });

  afterEach(async () => {
    await listener.stop();
    await database.close();
  });

  it('listens on a channel named after the schema, over its own connection', async () => {
    expect(store.notifyChannel).toBe(`${database.tables.schema}.chronicle_outbox`);
    expect(listener.isListening).toBe(true);
    const rows = (await database.dataSource.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName])) as Array<{
      pid: number;
    }>;
    expect(rows).toEqual([{ pid: listener.backendPid }]);
  });

  it('delivers one notification when an append that wrote entries commits, and none before', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // After the store: its pg_notify has run, but the transaction is still open.
    journal.addParticipant({
      participate: async (_manager, request) => {
        if (request.writes[0]?.streamId !== 'held') return;
        entered();
        await gate;
      },
    });
    const append = journal.append({ writes: [write('held', 0, 3)] });
    await inside;
    await delay(SETTLE_MS);
    expect(received).toEqual([]);
    release();
    await append;
    await waitFor(() => received.length > 0, 'the notification');
    await delay(SETTLE_MS);
    expect(received).toEqual(['']);
  });

  it('sends nothing for a unit that rolls back or writes no entries', async () => {
    await journal.append({ writes: [write('occ', 0, 1)] });
    await waitFor(() => received.length === 1, 'the first notification');

    await expect(journal.append({ writes: [write('occ', 0, 1)] })).rejects.toBeInstanceOf(ConcurrencyError);
    let refuse = true;
    journal.addParticipant({
      participate: async () => {
        if (refuse) throw new Error('refused');
      },
    });
    await expect(journal.append({ writes: [write('refused', 0, 2)] })).rejects.toThrow('refused');
    refuse = false;
    // No handler of this store receives commands-only units.
    const rejection = { kind: 'rejected' as const, error: { name: 'E', code: 'E', message: 'm' } };
    await journal.append({
      writes: [],
      commands: [{ commandId: randomUUID(), fingerprint: 'f', streamId: 's', aggregateType: 't', outcome: rejection, recordedAt: new Date() }],
    });
    await delay(SETTLE_MS);
    expect(received).toEqual(['']);
  });

  it('sends one notification per transaction, however many entries it wrote', async () => {
    await journal.append({ writes: [write('multi-a', 0, 4), write('multi-b', 0, 3), write('multi-c', 0, 5, 'other.type')] });
    await waitFor(() => received.length > 0, 'the notification');
    await delay(SETTLE_MS);
    expect(received).toEqual(['']);
    expect((await store.stats()).map((stats) => [stats.handler, stats.pending])).toEqual([
      ['audit', 12],
      ['relay', 7],
    ]);
  });

  describe("the unit's origin as the payload (the journal and the outbox notifying one channel)", () => {
    const origin = 'runtime-7d0c2f3a';
    beforeEach(() => journal.enableNotifications(store.notifyChannel));

    async function heardAfter(append: () => Promise<unknown>): Promise<string[]> {
      received.length = 0;
      await append();
      await waitFor(() => received.length > 0, 'the notification');
      await delay(SETTLE_MS);
      return [...received];
    }

    it('sends the origin once for a tagged unit, whether it is written as one statement or as a transaction', async () => {
      // One statement: the journal's and the outbox's NOTIFY carry the same payload, folded into one.
      expect(await heardAfter(() => journal.append({ writes: [write('tagged-1', 0, 2)], origin }))).toEqual([origin]);
      // A participant that cannot join the statement sends the unit through the transactional path.
      journal.addParticipant({ participate: async () => undefined });
      expect(await heardAfter(() => journal.append({ writes: [write('tagged-2', 0, 2)], origin }))).toEqual([origin]);
      expect(await heardAfter(() => journal.append({ writes: [write('untagged', 0, 1)] }))).toEqual(['']);
    });

    it('sends the origin of a conditional append, pipelined after its decision locks', async () => {
      const tagged = (type: string): StreamWrite => ({ ...write(`decided-${type}`, 0, 1, type), events: [{ ...event(type), tags: ['room:9'] }] });
      const read = await journal.readByQuery([{ tags: ['room:9'] }]);
      const condition = { failIfEventsMatch: [{ tags: ['room:9'] }], after: read.next };
      expect(await heardAfter(() => journal.append({ writes: [tagged('thing.happened')], condition, origin }))).toEqual([origin]);
    });

    it('refuses a malformed origin by name before anything is written or sent', async () => {
      received.length = 0;
      await expect(journal.append({ writes: [write('bad-origin', 0, 1)], origin: "x'); DROP TABLE x; --" })).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'origin',
      });
      await delay(SETTLE_MS);
      expect(received).toEqual([]);
      expect(await journal.streamInfo('bad-origin')).toBeUndefined();
    });
  });

  it('does not wake a listener of another Chronicle install in the same database', async () => {
    const tables = { ...database.tables, tablePrefix: 'other_' };
    await runChronicleMigrations(database.dataSource, tables);
    const otherJournal = new TypeOrmJournal(database.dataSource, tables);
    const otherStore = new TypeOrmOutboxStore(database.dataSource, tables);
    otherJournal.addParticipant(otherStore);
    await otherStore.subscribe([{ handler: 'relay', events: '*', startFrom: 'now' }]);
    expect(otherStore.notifyChannel).not.toBe(store.notifyChannel);
    await otherJournal.append({ writes: [write('elsewhere', 0, 2)] });
    await delay(SETTLE_MS);
    expect(received).toEqual([]);
    expect((await otherStore.stats('relay'))[0]?.pending).toBe(2);
  });

  it('reconnects after its connection is terminated, calls onReconnect, and hears later commits', async () => {
    const first = listener.backendPid;
    expect(first).toEqual(expect.any(Number));
    await database.dataSource.query('SELECT pg_terminate_backend($1)', [first]);
    await waitFor(() => reconnects === 1 && listener.isListening, 'the reconnect');
    expect(listener.backendPid).not.toBe(first);
    expect(warnings.some((warning) => warning.includes('Lost the connection'))).toBe(true);

    await journal.append({ writes: [write('after-reconnect', 0, 1)] });
    await waitFor(() => received.length > 0, 'a notification after the reconnect');

    // A second loss is survived the same way.
    await database.dataSource.query('SELECT pg_terminate_backend($1)', [listener.backendPid]);
    await waitFor(() => reconnects === 2 && listener.isListening, 'the second reconnect');
    expect(received).toEqual(['']);
  });

  it('keeps retrying with growing waits while the server is unreachable, and resumes when it is back', async () => {
    const proxy = new TcpProxy(new URL(POSTGRES_URL).hostname, Number(new URL(POSTGRES_URL).port || 5432));
    await proxy.start();
    const proxied = new DataSource({ type: 'postgres', url: proxiedUrl(proxy.port) });
    const heard: string[] = [];
    const retries: string[] = [];
    let resumed = 0;
    const flaky = new PostgresNotificationListener(proxied, {
      channel: store.notifyChannel,
      onNotification: (payload) => heard.push(payload),
      onReconnect: () => resumed++,
      reconnectInitialDelayMs: 10,
      reconnectMaxDelayMs: 80,
      random: () => 1,
      logger: { log: () => undefined, warn: (message) => retries.push(message), error: (message) => retries.push(message) },
    });
    try {
      await flaky.start();
      expect(flaky.isListening).toBe(true);
      await proxy.stop();
      await waitFor(() => retries.filter((message) => message.includes('retrying in 80 ms')).length >= 2, 'retries at the longest wait');
      expect(flaky.isListening).toBe(false);
      const waits = retries.flatMap((message) => /(?:reconnecting|retrying) in (\d+) ms/.exec(message)?.[1] ?? []).map(Number);
      expect(waits.slice(0, 4)).toEqual([10, 20, 40, 80]);
      expect(resumed).toBe(0);

      await proxy.start();
      await waitFor(() => resumed === 1 && flaky.isListening, 'the reconnect through the proxy');
      await database.dataSource.query("SELECT pg_notify($1, 'after the outage')", [store.notifyChannel]);
      await waitFor(() => heard.length > 0, 'a notification after the outage');
      expect(heard).toEqual(['after the outage']);
    } finally {
      await flaky.stop();
      await proxy.stop();
    }
  });

  it('starts without throwing when the server is unreachable, and stop() ends the retries', async () => {
    const proxy = new TcpProxy('127.0.0.1', 9);
    await proxy.start();
    const port = proxy.port;
    await proxy.stop();
    const retries: string[] = [];
    const unreachable = new PostgresNotificationListener(new DataSource({ type: 'postgres', url: proxiedUrl(port) }), {
      channel: store.notifyChannel,
      onNotification: () => undefined,
      reconnectInitialDelayMs: 10,
      logger: { log: () => undefined, warn: (message) => retries.push(message), error: (message) => retries.push(message) },
    });
    await unreachable.start();
    expect(unreachable.isListening).toBe(false);
    await waitFor(() => retries.length >= 2, 'a few retries');
    await unreachable.stop();
    const seen = retries.length;
    await delay(SETTLE_MS);
    expect(retries.length).toBe(seen);
  });

  it('stops cleanly: the connection closes and nothing is delivered after', async () => {
    await listener.stop();
    expect(listener.isListening).toBe(false);
    // The server notices the closed connection a moment later.
    for (let attempt = 0; ; attempt++) {
      const rows = (await database.dataSource.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
        applicationName,
      ])) as unknown[];
      if (rows.length === 0) break;
      if (attempt > 200) throw new Error('the listening connection is still open after stop()');
      await delay(10);
    }
    await journal.append({ writes: [write('after-stop', 0, 1)] });
    await delay(SETTLE_MS);
    expect(received).toEqual([]);
    expect(reconnects).toBe(0);
    await listener.stop();
  });
});
