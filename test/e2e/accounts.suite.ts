import request from 'supertest';
import { startDemo, type DemoTestConfig, type RunningDemo } from '../support/demo-app.js';
import { ownerTag } from '../../apps/demo/src/accounts/owner-tag.js';

/** A database for one test: the demo configuration that reaches it, and how to remove it. */
export interface DemoDatabase {
  config: DemoTestConfig;
  cleanup(): Promise<void>;
}

const JSON_ERROR_KEYS = ['error', 'message', 'statusCode'];

/** Asserts the uniform error shape and that nothing internal leaks. */
function expectError(response: request.Response, status: number, message: RegExp): void {
  expect(response.status).toBe(status);
  expect(Object.keys(response.body as object).sort()).toEqual(JSON_ERROR_KEYS);
  expect(response.body.statusCode).toBe(status);
  const text = JSON.stringify(response.body);
  expect(text).toMatch(message);
  expect(text).not.toMatch(/\bat \S+ \(|node_modules|SELECT |INSERT |UPDATE |QueryFailedError/);
}

/**
 * The HTTP API of the demo, end to end over a real server, against one kind of database.
 * Every test starts from an empty database.
 */
export function accountsSuite(name: string, openDatabase: () => Promise<DemoDatabase>, options: { concurrentDriver: boolean }): void {
  describe(`demo bank over HTTP on ${name}`, () => {
    let database: DemoDatabase;
    let demo: RunningDemo;
    let http: ReturnType<typeof request>;

    beforeEach(async () => {
      database = await openDatabase();
      demo = await startDemo(database.config);
      http = request(demo.url);
    });
    afterEach(async () => {
      await demo.close();
      await database.cleanup();
    });

    async function open(owner = 'Ada', key?: string): Promise<{ id: string; version: number }> {
      const response = await http.post('/accounts').set(key ? { 'Idempotency-Key': key } : {}).send({ owner }).expect(201);
      return response.body as { id: string; version: number };
    }

    describe('accounts', () => {
      it('POST /accounts opens an account: 201 with id, owner, balance 0, version 1, open', async () => {
        const response = await http.post('/accounts').send({ owner: 'Ada Lovelace' }).expect(201);
        expect(response.body).toEqual({ id: expect.any(String), owner: 'Ada Lovelace', balance: 0, version: 1, closed: false });
      });

      it('deposits and withdrawals move the balance and the version', async () => {
        const { id } = await open();
        await http.post(`/accounts/${id}/deposits`).send({ amount: 1_000_000_000 }).expect(200);
        const withdrawn = await http.post(`/accounts/${id}/withdrawals`).send({ amount: 250 }).expect(200);
        expect(withdrawn.body).toEqual({ id, owner: 'Ada', balance: 999_999_750, version: 3, closed: false });
      });

      it('refuses a withdrawal beyond the balance with 422 and changes nothing', async () => {
        const { id } = await open();
        await http.post(`/accounts/${id}/deposits`).send({ amount: 100 }).expect(200);
        const refused = await http.post(`/accounts/${id}/withdrawals`).send({ amount: 101 });
        expectError(refused, 422, /Insufficient funds: account .* holds 100, the withdrawal is 101/);
        expect((await http.get(`/accounts/${id}`).expect(200)).body).toMatchObject({ balance: 100, version: 2 });
      });

      it('closes an account; later commands to it are 422', async () => {
        const { id } = await open();
        const closed = await http.post(`/accounts/${id}/close`).expect(200);
        expect(closed.body).toMatchObject({ id, closed: true, version: 2 });
        expectError(await http.post(`/accounts/${id}/deposits`).send({ amount: 5 }), 422, /is closed/);
        expectError(await http.post(`/accounts/${id}/withdrawals`).send({ amount: 5 }), 422, /is closed/);
        expectError(await http.post(`/accounts/${id}/close`), 422, /is closed/);
        expect((await http.get(`/accounts/${id}`)).body).toMatchObject({ version: 2, closed: true });
      });

      it('GET /accounts/:id answers with the account and its version as ETag', async () => {
        const { id } = await open();
        await http.post(`/accounts/${id}/deposits`).send({ amount: 7 }).expect(200);
        const response = await http.get(`/accounts/${id}`).expect(200);
        expect(response.body).toEqual({ id, owner: 'Ada', balance: 7, version: 2, closed: false });
        expect(response.headers.etag).toBe('"2"');
      });

      it('GET /accounts/:id/events lists the stored events with their metadata', async () => {
        const { id } = await open('Ada', 'open-1');
        await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'dep-1').send({ amount: 7 }).expect(200);
        const response = await http.get(`/accounts/${id}/events`).expect(200);
        expect(response.body).toEqual([
          {
            type: 'account.opened',
            version: 1,
            payload: { accountId: id, owner: 'Ada', ownerTag: ownerTag('Ada') },
            occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
            metadata: { commandId: 'open-1', correlationId: 'open-1', causationId: 'open-1' },
          },
          {
            type: 'account.money-deposited',
            version: 2,
            payload: { accountId: id, amount: 7 },
            occurredAt: expect.any(String),
            metadata: { commandId: 'dep-1', correlationId: 'dep-1', causationId: 'dep-1' },
          },
        ]);
      });

      it('GET /health reports the database and the outbox per handler', async () => {
        const { id } = await open();
        await http.post(`/accounts/${id}/deposits`).send({ amount: 3 }).expect(200);
        const response = await http.get('/health').expect(200);
        expect(response.body).toMatchObject({
          status: 'ok',
          info: {
            database: { status: 'up' },
            outbox: { status: 'up', handlers: { log: { pending: expect.any(Number), deadLettered: 0, oldestPendingAgeMs: expect.any(Number) } } },
          },
        });
      });

      it('serves the OpenAPI description', async () => {
        const response = await http.get('/docs/openapi.json').expect(200);
        expect(Object.keys(response.body.paths as object)).toEqual(
          expect.arrayContaining(['/accounts', '/accounts/{id}/deposits', '/accounts/{id}/withdrawals', '/accounts/{id}/close', '/accounts/{id}', '/accounts/{id}/events']),
        );
      });
    });

    describe('Idempotency-Key', () => {
      it('a retried POST /accounts returns the first 201 and body and opens no second account', async () => {
        const first = await http.post('/accounts').set('Idempotency-Key', 'open-a').send({ owner: 'Ada' }).expect(201);
        const retry = await http.post('/accounts').set('Idempotency-Key', 'open-a').send({ owner: 'Ada' }).expect(201);
        expect(retry.body).toEqual(first.body);
        const events = await http.get(`/accounts/${first.body.id as string}/events`).expect(200);
        expect(events.body).toHaveLength(1);
      });

      it('a retried deposit returns the first body and writes nothing, even after later writes', async () => {
        const { id } = await open();
        const first = await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'd1').send({ amount: 10 }).expect(200);
        await http.post(`/accounts/${id}/deposits`).send({ amount: 5 }).expect(200);
        const retry = await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'd1').send({ amount: 10 }).expect(200);
        expect(retry.body).toEqual(first.body);
        expect((await http.get(`/accounts/${id}`)).body).toMatchObject({ balance: 15, version: 3 });
      });

      it('a retried rejection returns the first 422, even once the command would succeed', async () => {
        const { id } = await open();
        const first = await http.post(`/accounts/${id}/withdrawals`).set('Idempotency-Key', 'w1').send({ amount: 50 });
        expectError(first, 422, /Insufficient funds/);
        await http.post(`/accounts/${id}/deposits`).send({ amount: 100 }).expect(200);
        const retry = await http.post(`/accounts/${id}/withdrawals`).set('Idempotency-Key', 'w1').send({ amount: 50 });
        expect(retry.status).toBe(422);
        expect(retry.body).toEqual(first.body);
        expect((await http.get(`/accounts/${id}`)).body).toMatchObject({ balance: 100 });
      });

      it('the same key with a different body is 422 and writes nothing', async () => {
        const { id } = await open();
        await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'd1').send({ amount: 10 }).expect(200);
        expectError(await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'd1').send({ amount: 11 }), 422, /already used with a different request/);
        expectError(await http.post('/accounts').set('Idempotency-Key', 'd1').send({ owner: 'Eve' }), 422, /already used with a different request/);
        expect((await http.get(`/accounts/${id}`)).body).toMatchObject({ balance: 10, version: 2 });
      });

      it('is checked before If-Match: a retry with a now-stale version still gets the first outcome', async () => {
        const { id } = await open();
        const first = await http.post(`/accounts/${id}/deposits`).set({ 'Idempotency-Key': 'd1', 'If-Match': '"1"' }).send({ amount: 10 }).expect(200);
        const retry = await http.post(`/accounts/${id}/deposits`).set({ 'Idempotency-Key': 'd1', 'If-Match': '"1"' }).send({ amount: 10 }).expect(200);
        expect(retry.body).toEqual(first.body);
      });

      it('a malformed key is 400', async () => {
        expectError(await http.post('/accounts').set('Idempotency-Key', 'has space').send({ owner: 'Ada' }), 400, /Idempotency-Key must be/);
        expectError(await http.post('/accounts').set('Idempotency-Key', 'k'.repeat(201)).send({ owner: 'Ada' }), 400, /Idempotency-Key must be/);
      });
    });

    describe('If-Match', () => {
      it('a stale version is 409 and writes nothing; the current one succeeds', async () => {
        const { id } = await open();
        await http.post(`/accounts/${id}/deposits`).send({ amount: 10 }).expect(200);
        expectError(await http.post(`/accounts/${id}/deposits`).set('If-Match', '"1"').send({ amount: 1 }), 409, /at version 2, not 1/);
        await http.post(`/accounts/${id}/deposits`).set('If-Match', '"2"').send({ amount: 1 }).expect(200);
        expect((await http.get(`/accounts/${id}`)).body).toMatchObject({ balance: 11, version: 3 });
      });

      it('a malformed If-Match is 400', async () => {
        const { id } = await open();
        for (const value of ['1', '"abc"', '"-1"', 'W/"1"', '"1.5"']) {
          expectError(await http.post(`/accounts/${id}/deposits`).set('If-Match', value).send({ amount: 1 }), 400, /If-Match must be a quoted version/);
        }
      });
    });

    describe('bad input', () => {
      it('an invalid body is 400 with class-validator messages, unknown properties included', async () => {
        expectError(await http.post('/accounts').send({}), 400, /owner must be a string/);
        expectError(await http.post('/accounts').send({ owner: '' }), 400, /owner must be longer than or equal to 1 characters/);
        expectError(await http.post('/accounts').send({ owner: 'x'.repeat(101) }), 400, /owner must be shorter than or equal to 100 characters/);
        expectError(await http.post('/accounts').send({ owner: 42 }), 400, /owner must be a string/);
        expectError(await http.post('/accounts').send({ owner: 'Ada', admin: true }), 400, /property admin should not exist/);
        const { id } = await open();
        for (const amount of [0, -1, 1.5, '10', 1_000_000_001, null]) {
          expectError(await http.post(`/accounts/${id}/deposits`).send({ amount }), 400, /amount must/);
        }
        expect((await http.get(`/accounts/${id}`)).body).toMatchObject({ balance: 0, version: 1 });
      });

      it('malformed JSON is 400, a body over 64 KiB is 413', async () => {
        expectError(await http.post('/accounts').set('Content-Type', 'application/json').send('{"owner": '), 400, /not valid JSON/);
        expectError(await http.post('/accounts').send({ owner: 'x'.repeat(70 * 1024) }), 413, /larger than 64 KiB/);
      });

      it('an unknown account is 404 on every route', async () => {
        expectError(await http.get('/accounts/nope'), 404, /Account nope does not exist/);
        expectError(await http.get('/accounts/nope/events'), 404, /Account nope does not exist/);
        expectError(await http.post('/accounts/nope/deposits').send({ amount: 1 }), 404, /Account nope does not exist/);
        expectError(await http.post('/accounts/nope/withdrawals').send({ amount: 1 }), 404, /Account nope does not exist/);
        expectError(await http.post('/accounts/nope/close'), 404, /Account nope does not exist/);
      });

      it('ids with quotes and SQL in them are plain data', async () => {
        const weird = encodeURIComponent(`x'; drop table chronicle_events; --`);
        expectError(await http.get(`/accounts/${weird}`), 404, /does not exist/);
        const { id } = await open();
        expect((await http.get(`/accounts/${id}`)).status).toBe(200);
      });
    });

    describe('persistence', () => {
      it('a restarted app on the same database finds the state intact and still answers retries', async () => {
        const { id } = await open('Ada', 'open-r');
        const deposit = await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'dep-r').send({ amount: 40 }).expect(200);
        await demo.close();

        demo = await startDemo(database.config);
        http = request(demo.url);
        expect((await http.get(`/accounts/${id}`).expect(200)).body).toEqual({ id, owner: 'Ada', balance: 40, version: 2, closed: false });
        const retry = await http.post(`/accounts/${id}/deposits`).set('Idempotency-Key', 'dep-r').send({ amount: 40 }).expect(200);
        expect(retry.body).toEqual(deposit.body);
        const reopened = await http.post('/accounts').set('Idempotency-Key', 'open-r').send({ owner: 'Ada' }).expect(201);
        expect(reopened.body).toMatchObject({ id, version: 1, balance: 0 });
      });
    });

    // better-sqlite3 is synchronous: a command runs to its commit without yielding to the event
    // loop, so commands never overlap and a queue cannot fill. Overload is a PostgreSQL matter.
    if (options.concurrentDriver) describe('overload', () => {
      it('answers 503 when the per-aggregate queue is full, and loses none of the accepted deposits', async () => {
        await demo.close();
        demo = await startDemo({ ...database.config, gateway: { maxQueuePerAggregate: 1 } });
        http = request(demo.url);
        const { id } = await open();
        const responses = await Promise.all(Array.from({ length: 50 }, () => http.post(`/accounts/${id}/deposits`).send({ amount: 1 })));
        const statuses = responses.map((r) => r.status);
        expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
        expect(statuses).toContain(503);
        for (const refused of responses.filter((r) => r.status === 503)) expectError(refused, 503, /overloaded; nothing was written/);
        const accepted = statuses.filter((s) => s === 200).length;
        expect((await http.get(`/accounts/${id}`)).body).toMatchObject({ balance: accepted, version: accepted + 1 });
        // Its own time budget: it boots a second demo inside the test (migrations included), which
        // on a loaded CI host alone took most of Jest's default 5 s (a timeout seen in CI).
      }, 30_000);
    });
  });
}
