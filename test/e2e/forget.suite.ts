import { jest } from '@jest/globals';
import { getDataSourceToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { Chronicle, type OutboxMessage } from '@chronicle/core';
import { runProjectionRebuild } from '@chronicle/nestjs';
import { LogEventsPublisher } from '../../apps/demo/src/outbox/log-events.publisher.js';
import { ownerTag } from '../../apps/demo/src/accounts/owner-tag.js';
import { dumpTables, formsFound } from '../support/personal-data-dump.js';
import { startDemo, TEST_MASTER_KEY, type RunningDemo } from '../support/demo-app.js';
import type { DemoDatabase } from './accounts.suite.js';

jest.setTimeout(120_000);

const NAME = 'Wilhelmina Quarrendon-Taft';
const KEPT = 'Bartholomew Oyelaran';
const NEW_KEY = Buffer.alloc(32, 77).toString('base64');

/** Every Chronicle table and every table of the demo (its read model and its migrations), as text. */
async function dumpDatabase(demo: RunningDemo, schema: string | undefined): Promise<string> {
  const dataSource = demo.app.get<DataSource>(getDataSourceToken());
  const isPostgres = dataSource.options.type === 'postgres';
  const names = (
    (isPostgres
      ? await dataSource.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'demo\\_%'", [schema])
      : await dataSource.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'demo\\_%' ESCAPE '\\'")) as { name: string }[]
  ).map((row) => row.name);
  if (!names.includes('demo_account_balances')) throw new Error(`the demo's read model is missing from ${names.join(', ')}`);
  return dumpTables(dataSource, isPostgres ? { schema } : {}, names);
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `POST /accounts/:id/forget` end to end on one database: the owner's name is sealed at rest,
 * forgetting it leaves no byte of it in any table (the demo's read model included), every read
 * path (the account, its events, the listing, a replay in a fresh process, a rebuild of the read
 * model, the relay) shows null, commands keep working, and the master key rotates under load.
 */
export function forgetSuite(name: string, openDatabase: () => Promise<DemoDatabase>): void {
  describe(`forgetting an account owner on ${name}`, () => {
    it('answers 200 with owner null; afterwards every read path shows null and the name is in no table', async () => {
      const database = await openDatabase();
      const schema = database.config.schema;
      // The relay stays off at first, so the outbox entries wait (sealed) until after the forget.
      const config = { ...database.config, outbox: { relay: false }, subscriptions: { pollIntervalMs: 50 } };
      let demo = await startDemo(config);
      try {
        let http = request(demo.url);
        const a = (await http.post('/accounts').send({ owner: NAME }).expect(201)).body as { id: string };
        const b = (await http.post('/accounts').send({ owner: KEPT }).expect(201)).body as { id: string };
        const deposit = await http.post(`/accounts/${a.id}/deposits`).send({ amount: 700 }).expect(200);
        const listed = await http.get(`/accounts?after=${deposit.headers['chronicle-position']}`).expect(200);
        expect(listed.body).toEqual(expect.arrayContaining([{ id: a.id, owner: NAME, balance: 700, closed: false }]));

        // Before the forget: Chronicle's tables hold only ciphertext; the read model holds what it
        // read (the name) — which proves the dump would see the name where it is.
        const before = await dumpDatabase(demo, schema);
        expect(formsFound(before, NAME)).toContain(NAME);
        expect(formsFound(await dumpTables(demo.app.get<DataSource>(getDataSourceToken()), schema ? { schema } : {}), NAME)).toEqual([]);

        const forgotten = await http.post(`/accounts/${a.id}/forget`).expect(200);
        expect(forgotten.body).toEqual({ id: a.id, owner: null, balance: 700, version: 3, closed: false });
        const position = forgotten.headers['chronicle-position'] as string;
        expect(position).toBeDefined();
        // Idempotent: a second forget writes nothing and answers the same account.
        expect((await http.post(`/accounts/${a.id}/forget`).expect(200)).body).toEqual(forgotten.body);
        await http.post('/accounts/00000000-0000-4000-8000-000000000000/forget').expect(404);

        expect((await http.get(`/accounts/${a.id}`).expect(200)).body).toMatchObject({ owner: null, balance: 700, version: 3 });
        const events = (await http.get(`/accounts/${a.id}/events`).expect(200)).body as { type: string; payload: Record<string, unknown> }[];
        expect(events.map((e) => e.type)).toEqual(['account.opened', 'account.money-deposited', 'account.owner-forgotten']);
        expect(events[0]!.payload).toEqual({ accountId: a.id, owner: null, ownerTag: ownerTag(NAME) });
        const after = (await http.get(`/accounts?after=${position}`).expect(200)).body as { id: string; owner: string | null }[];
        expect(after.find((row) => row.id === a.id)).toEqual({ id: a.id, owner: null, balance: 700, closed: false });
        expect(after.find((row) => row.id === b.id)!.owner).toBe(KEPT);
        expect((await http.get(`/accounts?owner=${encodeURIComponent(NAME)}`).expect(200)).body).toEqual([]);
        // The aggregate keeps accepting commands; a closed account can be forgotten too.
        expect((await http.post(`/accounts/${a.id}/withdrawals`).send({ amount: 200 }).expect(200)).body).toMatchObject({ owner: null, balance: 500, version: 4 });
        await http.post(`/accounts/${b.id}/close`).expect(200);

        const dump = await dumpDatabase(demo, schema);
        expect(formsFound(dump, NAME)).toEqual([]);
        expect(formsFound(dump, KEPT)).toContain(KEPT); // in the read model only, which keeps what it may
        await demo.close();

        // A fresh process (no cached key or aggregate): replay, the relay and a rebuild see null.
        // What the relay hands the demo's publisher, recorded from the moment the process starts.
        const published: OutboxMessage[] = [];
        const spy = jest.spyOn(LogEventsPublisher.prototype, 'publish').mockImplementation(async (batch) => void published.push(...batch));
        try {
          demo = await startDemo({ ...config, outbox: { pollIntervalMs: 50 }, subscriptions: { run: false } });
          http = request(demo.url);
          expect((await http.get(`/accounts/${a.id}`).expect(200)).body).toEqual({ id: a.id, owner: null, balance: 500, version: 4, closed: false });
          await eventually(async () => (published.length >= 6 ? true : undefined), 'the relay to publish the waiting entries');
        } finally {
          spy.mockRestore();
        }
        const openedA = published.find((m) => m.aggregateId === a.id && m.version === 1)!;
        const openedB = published.find((m) => m.aggregateId === b.id && m.version === 1)!;
        expect(openedA.payload).toEqual({ accountId: a.id, owner: null, ownerTag: ownerTag(NAME) });
        expect(openedB.payload).toEqual({ accountId: b.id, owner: KEPT, ownerTag: ownerTag(KEPT) });
        expect(published.filter((m) => m.aggregateId === a.id).map((m) => m.eventType)).toEqual([
          'account.opened',
          'account.money-deposited',
          'account.owner-forgotten',
          'account.money-withdrawn',
        ]);

        await demo.close();
        // A rebuild in a process that has no key cached: on SQLite its transaction holds the one
        // connection while it opens the events, so the key reads must run inside it.
        demo = await startDemo({ ...config, subscriptions: { run: false } });
        http = request(demo.url);
        const progress = await runProjectionRebuild(demo.app, 'balances', { write: () => true } as unknown as NodeJS.WritableStream);
        expect(progress.parked).toBe(0);
        const rebuilt = (await http.get('/accounts').expect(200)).body as { id: string; owner: string | null }[];
        expect(rebuilt.find((row) => row.id === a.id)).toEqual({ id: a.id, owner: null, balance: 500, closed: false });
        expect(rebuilt.find((row) => row.id === b.id)).toEqual({ id: b.id, owner: KEPT, balance: 0, closed: true });
        expect(formsFound(await dumpDatabase(demo, schema), NAME)).toEqual([]);
        await demo.close();

        // A wrong master key under the same id: a named error in the server, a generic 500 out,
        // never the name; the read model and the account without personal reads still answer.
        demo = await startDemo({ ...config, masterKeys: { current: { id: 'test', key: NEW_KEY } }, subscriptions: { run: false } });
        http = request(demo.url);
        const refused = await http.get(`/accounts/${b.id}`).expect(500);
        expect(JSON.stringify(refused.body)).not.toContain(KEPT);
        await http.get('/accounts').expect(200);
        // The forgotten account's key is gone whatever the master key: it still reads, as null.
        expect((await http.get(`/accounts/${a.id}`).expect(200)).body).toMatchObject({ owner: null });
      } finally {
        await demo.close();
        await database.cleanup();
      }
    });

    it('rotates the master key through the runtime while accounts are opened, and everything still decrypts with the new key alone', async () => {
      const database = await openDatabase();
      const config = { ...database.config, outbox: { relay: false } };
      let demo = await startDemo(config);
      try {
        let http = request(demo.url);
        const opened: { id: string; owner: string }[] = [];
        for (let i = 0; i < 8; i++) opened.push((await http.post('/accounts').send({ owner: `Owner ${i} Before` }).expect(201)).body);
        await demo.close();

        demo = await startDemo({ ...config, masterKeys: { current: { id: 'k2', key: NEW_KEY }, previous: [{ id: 'test', key: TEST_MASTER_KEY }] } });
        http = request(demo.url);
        const writes = Array.from({ length: 24 }, (_, i) =>
          i % 2 === 0 ? http.post('/accounts').send({ owner: `Owner ${i} During` }) : http.post(`/accounts/${opened[i % 8]!.id}/deposits`).send({ amount: 10 }),
        );
        const [rotation, answers] = await Promise.all([demo.app.get(Chronicle).rotateMasterKey({ batchSize: 2 }), Promise.all(writes)]);
        expect(answers.map((answer) => answer.status).filter((status) => status >= 300)).toEqual([]);
        expect(rotation.rewrapped).toBeGreaterThanOrEqual(1);
        await demo.app.get(Chronicle).rotateMasterKey();
        const during = answers.filter((answer) => answer.status === 201).map((answer) => answer.body as { id: string; owner: string });
        await demo.close();

        demo = await startDemo({ ...config, masterKeys: { current: { id: 'k2', key: NEW_KEY } } });
        http = request(demo.url);
        for (const account of [...opened, ...during]) {
          expect((await http.get(`/accounts/${account.id}`).expect(200)).body.owner).toBe(account.owner);
        }
      } finally {
        await demo.close();
        await database.cleanup();
      }
    });
  });
}
