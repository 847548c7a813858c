import request from 'supertest';
import { startDemo, type RunningDemo } from '../support/demo-app.js';
import type { DemoDatabase } from './accounts.suite.js';

type Http = ReturnType<typeof request>;

/** Polls a transfer until it is no longer pending. */
export async function settledTransfer(http: Http, id: string, timeoutMs = 15_000): Promise<{ status: string; reason?: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await http.get(`/transfers/${id}`);
    if (response.status === 200 && response.body.status !== 'pending') return response.body as { status: string; reason?: string };
    if (Date.now() > deadline) throw new Error(`Transfer ${id} still ${JSON.stringify(response.body)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Transfers by saga and the balances projection, end to end over a real server, against one kind
 * of database. Every test starts from an empty database.
 */
export function transfersSuite(name: string, openDatabase: () => Promise<DemoDatabase>): void {
  describe(`demo transfers and balances over HTTP on ${name}`, () => {
    let database: DemoDatabase;
    let demo: RunningDemo;
    let http: Http;

    beforeEach(async () => {
      database = await openDatabase();
      demo = await startDemo({ ...database.config, subscriptions: { pollIntervalMs: 200 } });
      http = request(demo.url);
    });
    afterEach(async () => {
      await demo.close();
      await database.cleanup();
    });

    async function account(owner: string, balance = 0): Promise<string> {
      const { id } = (await http.post('/accounts').send({ owner }).expect(201)).body as { id: string };
      if (balance > 0) await http.post(`/accounts/${id}/deposits`).send({ amount: balance }).expect(200);
      return id;
    }

    async function balanceOf(id: string): Promise<number> {
      return ((await http.get(`/accounts/${id}`).expect(200)).body as { balance: number }).balance;
    }

    async function transfer(from: string, to: string, amount: number, key?: string): Promise<string> {
      const response = await http.post('/transfers').set(key ? { 'Idempotency-Key': key } : {}).send({ from, to, amount }).expect(202);
      expect(response.body).toEqual({ id: expect.any(String), from, to, amount, status: 'pending' });
      return response.body.id as string;
    }

    it('moves the money and completes the transfer', async () => {
      const [a, b] = [await account('Ada', 100), await account('Bob')];
      const id = await transfer(a, b, 30);
      expect(await settledTransfer(http, id)).toEqual({ id, from: a, to: b, amount: 30, status: 'completed' });
      expect([await balanceOf(a), await balanceOf(b)]).toEqual([70, 30]);
    });

    it('fails a transfer beyond the balance with the reason, moving nothing', async () => {
      const [a, b] = [await account('Ada', 10), await account('Bob')];
      const id = await transfer(a, b, 11);
      expect(await settledTransfer(http, id)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/debit .* refused: Insufficient funds/) });
      expect([await balanceOf(a), await balanceOf(b)]).toEqual([10, 0]);
    });

    it('refunds the source when the target is closed, and when it does not exist', async () => {
      const [a, closed] = [await account('Ada', 50), await account('Carl')];
      await http.post(`/accounts/${closed}/close`).expect(200);
      const toClosed = await transfer(a, closed, 20);
      expect(await settledTransfer(http, toClosed)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/credit .* refused: .*closed/) });
      const toNobody = await transfer(a, '0190f7d2-0000-7000-8000-000000000000', 20);
      expect(await settledTransfer(http, toNobody)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/does not exist/) });
      expect(await balanceOf(a)).toBe(50);
      const events = ((await http.get(`/accounts/${a}/events`).expect(200)).body as Array<{ type: string }>).map((e) => e.type);
      expect(events).toEqual([
        'account.opened',
        'account.money-deposited',
        'account.money-withdrawn',
        'account.money-refunded',
        'account.money-withdrawn',
        'account.money-refunded',
      ]);
    });

    it("words a transfer to or from an unknown account in the API's terms, not the library's", async () => {
      const a = await account('Ada', 50);
      const nobody = '0190f7d2-0000-7000-8000-000000000001';
      const toNobody = await transfer(a, nobody, 20);
      expect(await settledTransfer(http, toNobody)).toEqual({
        id: toNobody, from: a, to: nobody, amount: 20, status: 'failed',
        reason: `The credit of ${nobody} was refused: Account ${nobody} does not exist.`,
      });
      const fromNobody = await transfer(nobody, a, 20);
      expect(await settledTransfer(http, fromNobody)).toEqual({
        id: fromNobody, from: nobody, to: a, amount: 20, status: 'failed',
        reason: `The debit of ${nobody} was refused: Account ${nobody} does not exist.`,
      });
      expect(await balanceOf(a)).toBe(50);
    });

    it('treats a retried request with the same Idempotency-Key as the same transfer', async () => {
      const [a, b] = [await account('Ada', 100), await account('Bob')];
      const first = await transfer(a, b, 40, 'transfer-once');
      const again = await transfer(a, b, 40, 'transfer-once');
      expect(again).toBe(first);
      await settledTransfer(http, first);
      expect([await balanceOf(a), await balanceOf(b)]).toEqual([60, 40]);
      await http.post('/transfers').set('Idempotency-Key', 'transfer-once').send({ from: a, to: b, amount: 41 }).expect(422);
    });

    it('refuses bad requests with a message naming the problem, and answers 404 for an unknown transfer', async () => {
      const a = await account('Ada', 10);
      expect((await http.post('/transfers').send({ from: a, to: a, amount: 1 }).expect(422)).body.message).toMatch(/two different accounts/);
      expect(JSON.stringify((await http.post('/transfers').send({ from: a, amount: -1 }).expect(400)).body.message)).toMatch(/to must be|amount must not be less/);
      expect((await http.post('/transfers').send({ from: a, to: 'x', amount: 1, extra: 1 }).expect(400)).body.message).toEqual(
        expect.arrayContaining([expect.stringMatching(/extra should not exist/)]),
      );
      expect((await http.get('/transfers/nope').expect(404)).body.message).toBe('Transfer nope does not exist.');
    });

    it('lists accounts from the balances projection; after=<Chronicle-Position> reflects that write at once', async () => {
      const [a, b] = [await account('Ada', 5), await account('Bob')];
      const deposit = await http.post(`/accounts/${b}/deposits`).send({ amount: 7 }).expect(200);
      const position = deposit.headers['chronicle-position'] as string;
      expect(position).toMatch(/^\d+(:\d+)?$/);
      const listed = await http.get('/accounts').query({ after: position }).expect(200);
      expect(listed.body).toEqual(
        [
          { id: a, owner: 'Ada', balance: 5, closed: false },
          { id: b, owner: 'Bob', balance: 7, closed: false },
        ].sort((x, y) => (x.id < y.id ? -1 : 1)),
      );
      expect((await http.get('/accounts').query({ owner: 'Bob', after: position }).expect(200)).body).toEqual([{ id: b, owner: 'Bob', balance: 7, closed: false }]);
      expect((await http.get('/accounts').query({ limit: 1, offset: 1, after: position }).expect(200)).body).toHaveLength(1);
      expect((await http.get('/accounts').query({ after: 'abc' }).expect(400)).body.message).toEqual([expect.stringMatching(/after must be a Chronicle-Position/)]);
      expect((await http.get('/accounts').query({ limit: 0 }).expect(400)).body.message).toEqual([expect.stringMatching(/limit must not be less than 1/)]);
    });

    it('reports the projection and the saga in GET /health', async () => {
      const a = await account('Ada', 5);
      await settledTransfer(http, await transfer(a, await account('Bob'), 5));
      const health = await http.get('/health').expect(200);
      expect(health.body.details.subscriptions).toMatchObject({
        status: 'up',
        subscriptions: {
          'projection:balances': { parked: 0, lastError: null, runner: expect.any(String) },
          'saga:money-transfer': { parked: 0, lastError: null, runner: expect.any(String) },
        },
      });
    });
  });
}
