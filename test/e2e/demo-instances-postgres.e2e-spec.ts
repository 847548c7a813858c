import request from 'supertest';
import { startDemo, type RunningDemo } from '../support/demo-app.js';
import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { settledTransfer } from './transfers.suite.js';

await describePostgres('demo bank: several instances and an unreachable PostgreSQL', () => {
  let schema: string;
  let drop: () => Promise<void>;
  const running: RunningDemo[] = [];

  beforeEach(async () => {
    schema = uniqueSchemaName('chr_demo');
    drop = await createSchema(schema);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((demo) => demo.close()));
    await drop();
  });

  async function start(databaseUrl = POSTGRES_URL): Promise<ReturnType<typeof request>> {
    const demo = await startDemo({ databaseUrl, schema });
    running.push(demo);
    return request(demo.url);
  }

  it('two instances on one database: concurrent deposits through both lose nothing, and each reads the other’s writes', async () => {
    const [a, b] = [await start(), await start()];
    const { id } = (await a.post('/accounts').send({ owner: 'Ada' }).expect(201)).body as { id: string };
    // B has never seen the account; A has it cached. Both then write concurrently.
    const deposits = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).post(`/accounts/${id}/deposits`).send({ amount: i + 1 }));
    const statuses = (await Promise.all(deposits)).map((r) => r.status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const expected = { id, balance: (60 * 61) / 2, version: 61 };
    expect((await a.get(`/accounts/${id}`).expect(200)).body).toMatchObject(expected);
    expect((await b.get(`/accounts/${id}`).expect(200)).body).toMatchObject(expected);
    // A write through one instance is visible through the other at once.
    await b.post(`/accounts/${id}/withdrawals`).send({ amount: 30 }).expect(200);
    const fromA = await a.get(`/accounts/${id}`).expect(200);
    expect(fromA.body).toMatchObject({ balance: expected.balance - 30, version: 62 });
    expect(fromA.headers.etag).toBe('"62"');
    const versions = ((await a.get(`/accounts/${id}/events`).expect(200)).body as Array<{ version: number }>).map((e) => e.version);
    expect(versions).toEqual(Array.from({ length: 62 }, (_, i) => i + 1));
  }, 60_000);

  it('two instances: one runs each projection and saga, transfers through both settle, and the read model equals the journal', async () => {
    const [a, b] = [await start(), await start()];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const http = i % 2 === 0 ? a : b;
      const { id } = (await http.post('/accounts').send({ owner: `o${i}` }).expect(201)).body as { id: string };
      await http.post(`/accounts/${id}/deposits`).send({ amount: 500 }).expect(200);
      ids.push(id);
    }
    const transfers = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const http = i % 2 === 0 ? a : b;
        const body = { from: ids[i % 4], to: ids[(i + 1 + (i % 3)) % 4], amount: 25 + i * 10 };
        return ((await http.post('/transfers').send(body).expect(202)).body as { id: string }).id;
      }),
    );
    for (const [i, id] of transfers.entries()) expect(['completed', 'failed']).toContain((await settledTransfer(i % 2 ? a : b, id)).status);

    const health = await Promise.all([a, b].map(async (http) => (await http.get('/health').expect(200)).body.details.subscriptions.subscriptions));
    // Both instances name the same runner for each subscription: one active runner per subscription.
    expect(health[0]['projection:balances'].runner).toBe(health[1]['projection:balances'].runner);
    expect(health[0]['saga:money-transfer'].runner).toBe(health[1]['saga:money-transfer'].runner);

    const last = await a.post(`/accounts/${ids[0]}/deposits`).send({ amount: 1 }).expect(200);
    const after = last.headers['chronicle-position'] as string;
    const fold = await Promise.all(ids.map(async (id) => (await a.get(`/accounts/${id}`).expect(200)).body as { id: string; balance: number }));
    expect(fold.reduce((sum, account) => sum + account.balance, 0)).toBe(4 * 500 + 1);
    for (const http of [a, b]) {
      const listed = (await http.get('/accounts').query({ after }).expect(200)).body as Array<{ id: string; balance: number }>;
      expect(Object.fromEntries(listed.map((row) => [row.id, row.balance]))).toEqual(Object.fromEntries(fold.map((row) => [row.id, row.balance])));
    }
  }, 60_000);

  it('an idempotency key used on one instance is honoured by the other', async () => {
    const [a, b] = [await start(), await start()];
    const first = await a.post('/accounts').set('Idempotency-Key', 'shared-open').send({ owner: 'Ada' }).expect(201);
    const again = await b.post('/accounts').set('Idempotency-Key', 'shared-open').send({ owner: 'Ada' }).expect(201);
    expect(again.body).toEqual(first.body);
    const id = first.body.id as string;
    const deposit = await b.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'shared-dep').send({ amount: 9 }).expect(200);
    expect((await a.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'shared-dep').send({ amount: 9 }).expect(200)).body).toEqual(deposit.body);
    expect((await a.get(`/accounts/${id}`)).body).toMatchObject({ balance: 9, version: 2 });
  });

  it('answers 503 while the database is unreachable, and recovers when it is back', async () => {
    const url = new URL(POSTGRES_URL);
    const proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
    await proxy.start();
    try {
      const proxied = new URL(POSTGRES_URL);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      const http = await start(proxied.toString());
      const { id } = (await http.post('/accounts').send({ owner: 'Ada' }).expect(201)).body as { id: string };

      await proxy.stop();
      for (const response of [
        await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'during-outage').send({ amount: 5 }),
        await http.get(`/accounts/${id}`),
      ]) {
        expect(response.status).toBe(503);
        expect(response.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.stringMatching(/database is unreachable/) });
      }

      await proxy.start();
      // The outcome of the deposit during the outage was unknown to the client: its retry settles it.
      await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'during-outage').send({ amount: 5 }).expect(200);
      expect((await http.get(`/accounts/${id}`).expect(200)).body).toMatchObject({ balance: 5, version: 2 });
    } finally {
      await proxy.stop();
    }
  });
});
