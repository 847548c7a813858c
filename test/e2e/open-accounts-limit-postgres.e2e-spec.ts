import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import request from 'supertest';
import { buildDemo, launchDemo, type DemoProcess } from '../support/demo-process.js';
import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';
import { ownerTag } from '../../apps/demo/src/accounts/owner-tag.js';

/**
 * The demo's "at most N open accounts per owner" rule (a decision handler: a conditional append on
 * the owner's tag) under concurrent opens through two demo processes on one PostgreSQL schema.
 */
await describePostgres('demo bank: the open-accounts limit across two instances (OS processes)', () => {
  let schema: string;
  let drop: () => Promise<void>;
  const children: ChildProcess[] = [];

  beforeAll(() => buildDemo(), 300_000);
  beforeEach(async () => {
    schema = uniqueSchemaName('chr_limit');
    drop = await createSchema(schema);
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await drop();
  });

  async function launch(env: Record<string, string> = {}): Promise<DemoProcess> {
    const demo = await launchDemo({ DATABASE_URL: POSTGRES_URL, CHRONICLE_SCHEMA: schema, ...env });
    children.push(demo.child);
    return demo;
  }

  /** The owner's opened and closed events, counted in the journal itself. */
  async function journalCounts(owner: string): Promise<{ opened: number; closed: number }> {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ type: string; n: string }>(
        `SELECT type, count(*) AS n FROM "${schema}".chronicle_events WHERE tags @> $1::jsonb GROUP BY type`,
        [JSON.stringify([ownerTag(owner)])],
      );
      const count = (type: string): number => Number(rows.find((row) => row.type === type)?.n ?? 0);
      return { opened: count('account.opened'), closed: count('account.closed') };
    } finally {
      await client.end();
    }
  }

  it('a concurrent burst of opens for one owner through both instances opens exactly the limit; the rest are 422 naming it', async () => {
    const [a, b] = [await launch(), await launch()];
    const owners = ['Ada', 'Bob', 'Carl'];
    const burst = owners.flatMap((owner) =>
      Array.from({ length: 16 }, (_, i) => request(i % 2 === 0 ? a.url : b.url).post('/accounts').send({ owner })),
    );
    const answers = await Promise.all(burst);
    for (const [index, owner] of owners.entries()) {
      const mine = answers.slice(index * 16, (index + 1) * 16);
      expect(mine.map((answer) => answer.status).sort()).toEqual([...Array(5).fill(201), ...Array(11).fill(422)]);
      for (const refused of mine.filter((answer) => answer.status === 422)) {
        expect((refused.body as { message: string }).message).toBe(
          `The owner already holds 5 open accounts, the most an owner may hold (CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER=5); close one to open another.`,
        );
      }
      expect(await journalCounts(owner)).toEqual({ opened: 5, closed: 0 });
    }
  }, 180_000);

  it('closing an account frees a place, taken by exactly one of the opens racing for it; the limit is configurable', async () => {
    const env = { CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER: '3' };
    const [a, b] = [await launch(env), await launch(env)];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await request(i % 2 === 0 ? a.url : b.url).post('/accounts').send({ owner: 'Ada' }).expect(201)).body as { id: string }).id);
    const refused = await request(b.url).post('/accounts').send({ owner: 'Ada' }).expect(422);
    expect((refused.body as { message: string }).message).toMatch(/CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER=3/);

    await request(a.url).post(`/accounts/${ids[0]}/close`).expect(200);
    // Through the other instance, at once: the close is seen (read-your-writes across instances).
    const race = await Promise.all(Array.from({ length: 10 }, (_, i) => request(i % 2 === 0 ? b.url : a.url).post('/accounts').send({ owner: 'Ada' })));
    expect(race.map((answer) => answer.status).sort()).toEqual([201, ...Array(9).fill(422)]);
    expect(await journalCounts('Ada')).toEqual({ opened: 4, closed: 1 });

    // An open retried with its Idempotency-Key on the other instance gets the first answer, even a refusal.
    const first = await request(a.url).post('/accounts').set('Idempotency-Key', 'ada-extra').send({ owner: 'Ada' }).expect(422);
    await request(b.url).post(`/accounts/${ids[1]}/close`).expect(200);
    const retried = await request(b.url).post('/accounts').set('Idempotency-Key', 'ada-extra').send({ owner: 'Ada' }).expect(422);
    expect(retried.body).toEqual(first.body);
    await request(b.url).post('/accounts').send({ owner: 'Ada' }).expect(201);
    expect(await journalCounts('Ada')).toEqual({ opened: 5, closed: 2 });
  }, 180_000);
});
