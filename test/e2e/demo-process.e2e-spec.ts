import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { buildDemo, launchDemo, TEST_MASTER_KEY_ENV, type DemoProcess } from '../support/demo-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { expectInOrderAndComplete, recordExchange, waitUntil } from '../support/outbox-test-apps.js';
import { AMQP_URL, POSTGRES_URL, createSchema, postgresUnavailableReason, rabbitMqUnavailableReason, servicesRequired, uniqueSchemaName } from '../support/services.js';

/**
 * The compiled demo as `npm start` runs it, in its own OS process: acknowledged writes survive
 * SIGKILL, and SIGTERM drains the commands in flight before the process ends.
 */

const launch = (env: Record<string, string>): Promise<DemoProcess> => launchDemo(env);

type Outcome = { key: string; amount: number; status: number | 'unknown' };

/**
 * Deposits `total` amounts from `workers` concurrent clients, and calls `signal` once `after`
 * deposits are acknowledged — so the signal lands with deposits acknowledged, in flight and not
 * yet sent. A deposit whose connection broke (or never opened) has an unknown outcome.
 */
async function depositUntilSignal(url: string, id: string, options: { total: number; workers: number; after: number; signal: () => void }): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  let acknowledged = 0;
  let signalled = false;
  const worker = async (): Promise<void> => {
    while (next < options.total) {
      const i = next++;
      const outcome: Outcome = { key: `dep-${i}`, amount: i + 1, status: 'unknown' };
      outcomes.push(outcome);
      try {
        const response = await request(url).post(`/accounts/${id}/deposits`).set('Idempotency-Key', outcome.key).send({ amount: outcome.amount });
        outcome.status = response.status;
        if (response.status === 200) acknowledged++;
      } catch {
        outcome.status = 'unknown';
      }
      if (!signalled && acknowledged >= options.after) {
        signalled = true;
        options.signal();
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return outcomes;
}

const databases: Array<[string, () => Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>]> = [
  [
    'SQLite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'chronicle-process-'));
      return { env: { SQLITE_PATH: join(dir, 'bank.sqlite'), DATABASE_URL: '' }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];
const postgresMissing = await postgresUnavailableReason();
if (!postgresMissing || servicesRequired()) {
  databases.push([
    'PostgreSQL',
    async () => {
      const schema = uniqueSchemaName('chr_proc');
      const drop = await createSchema(schema);
      return { env: { DATABASE_URL: POSTGRES_URL, CHRONICLE_SCHEMA: schema }, cleanup: drop };
    },
  ]);
} else {
  console.warn(`SKIPPED the PostgreSQL demo process tests: ${postgresMissing}`);
}

describe('the demo as an OS process', () => {
  beforeAll(() => buildDemo(), 300_000);

  describe.each(databases)('on %s', (_name, openDatabase) => {
    let database: Awaited<ReturnType<typeof openDatabase>>;
    const children: ChildProcess[] = [];

    beforeEach(async () => {
      database = await openDatabase();
    });
    afterEach(async () => {
      for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await database.cleanup();
    });

    it('keeps every acknowledged deposit through SIGKILL; retries settle the unknown ones at most once', async () => {
      let demo = await launch(database.env);
      children.push(demo.child);
      const { id } = (await request(demo.url).post('/accounts').send({ owner: 'Ada' }).expect(201)).body as { id: string };

      const crashed = demo;
      const outcomes = await depositUntilSignal(demo.url, id, { total: 120, workers: 8, after: 15, signal: () => crashed.child.kill('SIGKILL') });
      expect((await demo.exited).signal).toBe('SIGKILL');
      const acknowledged = outcomes.filter((o) => o.status === 200);
      expect(acknowledged.length).toBeGreaterThanOrEqual(15);
      expect(outcomes.some((o) => o.status === 'unknown')).toBe(true);
      expect(outcomes.every((o) => o.status === 200 || o.status === 'unknown')).toBe(true);

      demo = await launch(database.env);
      children.push(demo.child);
      const afterCrash = (await request(demo.url).get(`/accounts/${id}`).expect(200)).body as { balance: number; version: number };
      // Durability: every acknowledged deposit is in the balance.
      expect(afterCrash.balance).toBeGreaterThanOrEqual(acknowledged.reduce((sum, o) => sum + o.amount, 0));
      expect(unknownApplied(outcomes, afterCrash.balance)).not.toBeNaN();
      // Every deposit retried with its key: acknowledged ones replay, unknown ones apply at most once.
      for (const outcome of outcomes) {
        await request(demo.url).post(`/accounts/${id}/deposits`).set('Idempotency-Key', outcome.key).send({ amount: outcome.amount }).expect(200);
      }
      const settled = (await request(demo.url).get(`/accounts/${id}`).expect(200)).body as { balance: number; version: number };
      expect(settled).toMatchObject({ balance: (120 * 121) / 2, version: 121 });
      demo.child.kill('SIGTERM');
      await demo.exited;
    }, 120_000);

    it('SIGKILL mid-saga: after a restart every transfer reaches a terminal status and no money is created or lost', async () => {
      let demo = await launch(database.env);
      children.push(demo.child);
      const accounts: string[] = [];
      for (let i = 0; i < 6; i++) {
        const { id } = (await request(demo.url).post('/accounts').send({ owner: `owner-${i}` }).expect(201)).body as { id: string };
        await request(demo.url).post(`/accounts/${id}/deposits`).send({ amount: 1_000 }).expect(200);
        accounts.push(id);
      }
      await request(demo.url).post(`/accounts/${accounts[5]}/close`).expect(200);
      const unknownAccount = '0190f7d2-0000-7000-8000-00000000dead';
      // Transfers between the accounts, to a closed and an unknown one, some beyond the balance.
      const bodies = Array.from({ length: 60 }, (_, i) => ({
        from: accounts[i % 5]!,
        to: i % 11 === 0 ? unknownAccount : accounts[(i * 7 + 1) % 6]!,
        amount: i % 13 === 0 ? 5_000 : 10 + i,
      })).filter((body) => body.from !== body.to);
      let acknowledged = 0;
      let next = 0;
      const crashed = demo;
      const worker = async (): Promise<void> => {
        while (next < bodies.length) {
          const i = next++;
          try {
            const response = await request(crashed.url).post('/transfers').set('Idempotency-Key', `transfer-${i}`).send(bodies[i]!);
            if (response.status === 202 && ++acknowledged === 20) crashed.child.kill('SIGKILL');
          } catch {
            // The answer was lost with the process: the retry below settles it.
          }
        }
      };
      await Promise.all(Array.from({ length: 6 }, worker));
      expect((await demo.exited).signal).toBe('SIGKILL');

      demo = await launch(database.env);
      children.push(demo.child);
      const ids: string[] = [];
      for (const [i, body] of bodies.entries()) {
        ids.push(((await request(demo.url).post('/transfers').set('Idempotency-Key', `transfer-${i}`).send(body).expect(202)).body as { id: string }).id);
      }
      const statuses = new Map<string, string>();
      const deadline = Date.now() + 60_000;
      while (statuses.size < ids.length && Date.now() < deadline) {
        for (const id of ids) {
          if (statuses.has(id)) continue;
          const { status } = (await request(demo.url).get(`/transfers/${id}`).expect(200)).body as { status: string };
          if (status !== 'pending') statuses.set(id, status);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ids.filter((id) => !statuses.has(id))).toEqual([]);
      expect(new Set(statuses.values())).toEqual(new Set(['completed', 'failed']));
      let total = 0;
      for (const id of accounts) total += ((await request(demo.url).get(`/accounts/${id}`).expect(200)).body as { balance: number }).balance;
      expect(total).toBe(6_000);
      demo.child.kill('SIGTERM');
      await demo.exited;
    }, 180_000);

    it('npm run projection:rebuild (the chronicle CLI with the demo as --app) rebuilds the balances while the demo runs, with a progress bar', async () => {
      const demo = await launch(database.env);
      children.push(demo.child);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { id } = (await request(demo.url).post('/accounts').send({ owner: `o${i}` }).expect(201)).body as { id: string };
        await request(demo.url).post(`/accounts/${id}/deposits`).send({ amount: 100 + i }).expect(200);
        ids.push(id);
      }
      const last = await request(demo.url).post(`/accounts/${ids[0]}/withdrawals`).send({ amount: 1 }).expect(200);
      const before = (await request(demo.url).get('/accounts').query({ after: last.headers['chronicle-position'] }).expect(200)).body as unknown[];
      expect(before).toHaveLength(5);

      // What `npm run projection:rebuild -- <name>` runs once the build is done.
      const cli = (name: string) =>
        spawnSync(process.execPath, ['libs/console/dist/cli/bin.js', 'rebuild', '--app', 'dist/apps/demo/src/cli/chronicle-cli.app.js', name], {
          env: { ...process.env, NODE_OPTIONS: '', AMQP_URL: '', ...TEST_MASTER_KEY_ENV, ...database.env },
          encoding: 'utf8',
          timeout: 60_000,
        });
      const rebuild = cli('balances');
      expect(rebuild.stderr).toMatch(/100% \| 11\/≈11 events \| 11 handled \| 0 parked/);
      expect(rebuild.stdout).toMatch(/Projection "balances" rebuilt in [\d.]+ s: 11 events read, 11 handled, 0 parked/);
      expect(rebuild.status).toBe(0);
      const unknown = cli('nope');
      expect(unknown.status).toBe(1);
      expect(unknown.stderr).toContain('OperationsNotFoundError: No projection "nope" was found.');
      const after = (await request(demo.url).get('/accounts').expect(200)).body as unknown[];
      expect(after).toEqual(before);
      // Writes after the rebuild keep flowing into the rebuilt model.
      const next = await request(demo.url).post(`/accounts/${ids[1]}/deposits`).send({ amount: 5 }).expect(200);
      const listed = (await request(demo.url).get('/accounts').query({ after: next.headers['chronicle-position'] }).expect(200)).body as Array<{ id: string; balance: number }>;
      expect(listed.find((row) => row.id === ids[1])?.balance).toBe(106);
      demo.child.kill('SIGTERM');
      await demo.exited;
    }, 120_000);

    it('on SIGTERM finishes the commands in flight, refuses later ones with 503, and stops', async () => {
      const demo = await launch(database.env);
      children.push(demo.child);
      const { id } = (await request(demo.url).post('/accounts').send({ owner: 'Ada' }).expect(201)).body as { id: string };

      const outcomes = await depositUntilSignal(demo.url, id, { total: 120, workers: 8, after: 15, signal: () => demo.child.kill('SIGTERM') });
      const ended = await Promise.race([demo.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000))]);
      expect(ended).not.toBe('timeout');
      expect(outcomes.filter((o) => o.status === 200).length).toBeGreaterThanOrEqual(15);
      // Answers during the drain are successes, or 503 for commands refused once shutdown began.
      expect(outcomes.filter((o) => o.status !== 200 && o.status !== 503 && o.status !== 'unknown')).toEqual([]);
      expect(demo.output()).not.toMatch(/ERROR/);

      const restarted = await launch(database.env);
      children.push(restarted.child);
      const balance = ((await request(restarted.url).get(`/accounts/${id}`).expect(200)).body as { balance: number }).balance;
      expect(balance).toBe(outcomes.filter((o) => o.status === 200).reduce((sum, o) => sum + o.amount, 0) + unknownApplied(outcomes, balance));
      restarted.child.kill('SIGTERM');
      await restarted.exited;
    }, 120_000);
  });
});

/**
 * The part of a balance that came from deposits whose answer was lost: it must be a sum of some of
 * their amounts (each at most once), or the test fails.
 */
function unknownApplied(outcomes: Outcome[], balance: number): number {
  const known = outcomes.filter((o) => o.status === 200).reduce((sum, o) => sum + o.amount, 0);
  const rest = balance - known;
  const reachable = new Set([0]);
  for (const o of outcomes.filter((x) => x.status === 'unknown')) for (const s of [...reachable]) reachable.add(s + o.amount);
  return reachable.has(rest) ? rest : Number.NaN;
}

const rabbitMissing = (await postgresUnavailableReason()) ?? (await rabbitMqUnavailableReason());
(rabbitMissing && !servicesRequired() ? describe.skip : describe)('the demo publishing to RabbitMQ as an OS process', () => {
  if (rabbitMissing && !servicesRequired()) console.warn(`SKIPPED the demo RabbitMQ process test: ${rabbitMissing}`);
  const children: ChildProcess[] = [];
  let drop: () => Promise<void>;
  let env: Record<string, string>;

  beforeAll(() => buildDemo(), 300_000);
  beforeEach(async () => {
    const schema = uniqueSchemaName('chr_relay');
    drop = await createSchema(schema);
    env = { DATABASE_URL: POSTGRES_URL, CHRONICLE_SCHEMA: schema, AMQP_URL, CHRONICLE_OUTBOX_LEASE_MS: '1500', CHRONICLE_OUTBOX_POLL_MS: '100' };
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await drop();
  });

  it('without CHRONICLE_MASTER_KEY: refuses PostgreSQL with one named line and exit 78; on a SQLite file makes a development key once and warns', async () => {
    const main = 'dist/apps/demo/src/main.js';
    const base = { ...process.env, NODE_OPTIONS: '', AMQP_URL: '', CHRONICLE_MASTER_KEY: '', PORT: '0' };
    const refused = spawnSync(process.execPath, [main], { env: { ...base, DATABASE_URL: POSTGRES_URL }, encoding: 'utf8', timeout: 60_000 });
    expect(refused.status).toBe(78);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^The demo refused to start: MasterKeyMissingError: CHRONICLE_MASTER_KEY is not set/)]);
    const malformed = spawnSync(process.execPath, [main], { env: { ...base, DATABASE_URL: POSTGRES_URL, CHRONICLE_MASTER_KEY: 'c2hvcnQ=' }, encoding: 'utf8', timeout: 60_000 });
    expect(malformed.status).toBe(78);
    expect(malformed.stderr).toMatch(/MasterKeyMissingError: Master key "demo-1" is 5 bytes/);
    expect(malformed.stderr).not.toContain('c2hvcnQ=');

    const dir = mkdtempSync(join(tmpdir(), 'chronicle-devkey-'));
    try {
      const env = { SQLITE_PATH: join(dir, 'bank.sqlite'), DATABASE_URL: '', CHRONICLE_MASTER_KEY: '' };
      let demo = await launch(env);
      expect(demo.output()).toMatch(/NO CHRONICLE_MASTER_KEY: .* development master key kept in .*chronicle-dev-master-key/);
      const { id } = (await request(demo.url).post('/accounts').send({ owner: 'Devkey Person' }).expect(201)).body as { id: string };
      demo.child.kill('SIGTERM');
      await demo.exited;
      // The same key after a restart: the name still reads.
      demo = await launch(env);
      expect((await request(demo.url).get(`/accounts/${id}`).expect(200)).body.owner).toBe('Devkey Person');
      demo.child.kill('SIGTERM');
      await demo.exited;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('publishes every account event to chronicle.demo; a relay killed with SIGKILL mid-stream loses none after a restart', async () => {
    const consumer = await recordExchange('chronicle.demo');
    // The demo reaches RabbitMQ through a proxy, so the test can hold its publishing in flight.
    const broker = new URL(AMQP_URL);
    const proxy = new TcpProxy(broker.hostname, Number(broker.port || 5672));
    await proxy.start();
    try {
      const proxied = new URL(AMQP_URL);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      let demo = await launch({ ...env, AMQP_URL: proxied.toString() });
      children.push(demo.child);
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(((await request(demo.url).post('/accounts').send({ owner: `o${i}` }).expect(201)).body as { id: string }).id);
      const mine = () => consumer.messages.filter((m) => ids.includes(m.aggregateId));
      let acknowledged = 0;
      const depositing = Promise.all(
        ids.map(async (id) => {
          for (let k = 0; k < 60; k++) {
            const response = await request(demo.url).post(`/accounts/${id}/deposits`).send({ amount: 1 }).catch(() => undefined);
            if (response !== undefined && response.status < 300) acknowledged++;
          }
        }),
      );
      await waitUntil(() => mine().length >= 100, 30_000, '100 published events');
      // The relay publishes as fast as the deposits commit: held in flight from here on (its
      // publishes unconfirmed, later entries unpublished), the kill lands while it is publishing.
      proxy.pause();
      const held = acknowledged;
      await waitUntil(() => acknowledged >= held + 16, 30_000, '16 deposits committed while publishing is held');
      demo.child.kill('SIGKILL');
      await demo.exited;
      await depositing;
      const beforeRestart = new Set(mine().map((m) => `${m.aggregateId}@${m.version}`)).size;

      demo = await launch(env);
      children.push(demo.child);
      const expected = new Map<string, number>();
      for (const id of ids) expected.set(id, ((await request(demo.url).get(`/accounts/${id}`).expect(200)).body as { version: number }).version);
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      expect(beforeRestart).toBeLessThan(total);
      await waitUntil(() => new Set(mine().map((m) => `${m.aggregateId}@${m.version}`)).size === total, 30_000, `all ${total} events on chronicle.demo`);
      expectInOrderAndComplete(mine(), expected);
      const health = await request(demo.url).get('/health').expect(200);
      expect(health.body.info.outbox.handlers.rabbitmq).toMatchObject({ deadLettered: 0 });
      demo.child.kill('SIGTERM');
      await demo.exited;
    } finally {
      await consumer.close();
      await proxy.stop();
    }
  }, 120_000);
});
