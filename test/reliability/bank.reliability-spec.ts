import { execFileSync } from 'node:child_process';
import amqp from 'amqplib';
import pg from 'pg';
import request from 'supertest';
import { launchDemo, type DemoProcess } from '../support/demo-process.js';
import type { ReceivedMessage } from '../support/outbox-test-apps.js';
import { prng } from '../support/prng.js';
import { AMQP_URL, POSTGRES_URL, createSchema, uniqueSchemaName } from '../support/services.js';
import { bounceRabbitMq, restartPostgres, withPostgresDown, type InjectedFault } from './faults.js';
import { checkAnswers, checkDelivery, checkJournal, checkMoney, checkProjection, foldAccounts, readJournal, type InvariantResult } from './invariants.js';
import { execute, generateOperations, type Answer, type Operation, type Outcome, type Target } from './workload.js';

/**
 * The reliability harness: two demo processes on one PostgreSQL and one RabbitMQ, a seeded random
 * workload from concurrent clients, and faults while it runs, one at a time (SIGKILL of an instance, a
 * PostgreSQL restart, an instance started while PostgreSQL is stopped, a RabbitMQ outage); then the invariants of docs/design.md, checked on the database and on
 * what reached the broker. `RELIABILITY_SEED`, `RELIABILITY_COMMANDS` and `RELIABILITY_CLIENTS`
 * set the run; the seed is printed so a failure can be replayed.
 */
const SEED = Number(process.env.RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COMMANDS = Number(process.env.RELIABILITY_COMMANDS ?? 1_500);
const CLIENTS = Number(process.env.RELIABILITY_CLIENTS ?? 12);
const ACCOUNTS = 12;
const INITIAL_DEPOSIT = 10_000;
const EXCHANGE = 'chronicle.demo';

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (seed ${SEED})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Records every message of the exchange through a durable queue, reconnecting across broker outages. */
function recordDurably(queue: string): { messages: ReceivedMessage[]; stop: () => Promise<void> } {
  const messages: ReceivedMessage[] = [];
  let stopped = false;
  let connection: amqp.ChannelModel | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        connection = await amqp.connect(AMQP_URL);
        const closed = new Promise<void>((resolve) => {
          connection!.on('close', () => resolve());
          connection!.on('error', () => resolve());
        });
        const channel = await connection.createChannel();
        await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
        await channel.assertQueue(queue, { durable: true });
        await channel.bindQueue(queue, EXCHANGE, '#');
        await channel.consume(queue, (message) => {
          if (!message) return;
          const body = JSON.parse(message.content.toString()) as { aggregateId: string; version: number };
          messages.push({ id: String(message.properties.messageId), aggregateId: body.aggregateId, version: body.version });
          channel.ack(message);
        });
        await closed;
      } catch {
        // The broker is down: try again shortly.
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  return {
    messages,
    stop: async () => {
      stopped = true;
      try {
        const channel = await connection?.createChannel();
        await channel?.deleteQueue(queue);
        await connection?.close();
      } catch {
        // Already closed.
      }
      await loop;
    },
  };
}

describe('reliability: two instances, SIGKILL, a PostgreSQL restart, an instance started while PostgreSQL is down and a RabbitMQ outage', () => {
  it(`keeps every guarantee under a random workload (seed ${SEED}, ${COMMANDS} commands, ${CLIENTS} clients)`, async () => {
    console.log(`Reliability run: RELIABILITY_SEED=${SEED} RELIABILITY_COMMANDS=${COMMANDS} RELIABILITY_CLIENTS=${CLIENTS}`);
    execFileSync('npm', ['run', 'build'], { stdio: 'pipe', timeout: 180_000 });
    const random = prng(SEED);
    const schema = uniqueSchemaName('chr_rel');
    const drop = await createSchema(schema);
    const recorder = recordDurably(`chronicle-reliability-${schema}`);
    const env = {
      DATABASE_URL: POSTGRES_URL,
      CHRONICLE_SCHEMA: schema,
      AMQP_URL,
      CHRONICLE_OUTBOX_LEASE_MS: '3000',
      CHRONICLE_OUTBOX_POLL_MS: '250',
      CHRONICLE_SUBSCRIPTION_LEASE_MS: '3000',
      CHRONICLE_SUBSCRIPTION_POLL_MS: '250',
      CHRONICLE_TRANSFER_STEP_TIMEOUT_MS: '2000',
    };
    const instances: DemoProcess[] = [];
    /** Every process ever launched, for their logs. */
    const launched: DemoProcess[] = [];
    const launch = async (port?: number): Promise<DemoProcess> => {
      const started = await launchDemo(env, port);
      launched.push(started);
      return started;
    };
    const faults: InjectedFault[] = [];
    const answers: Answer[] = [];
    try {
      instances.push(await launch(), await launch());
      const targets: Target[] = instances.map((instance) => ({ url: instance.url }));
      const deadline = Date.now() + 300_000;

      // The accounts, opened and funded before the concurrent part (their ids come from the answers).
      const setup: Operation[] = [];
      const outcomes = new Map<number, Outcome>();
      const accounts: string[] = [];
      // The owners the clients opened the accounts with (their names are stored sealed).
      const openedOwners = new Map<string, string>();
      for (let i = 0; i < ACCOUNTS; i++) {
        const open: Operation = { kind: 'open', key: `open-${i}`, owner: `owner-${i % 4}` };
        const opened = await execute(setup, open, targets, random, answers, deadline);
        expect(opened?.status).toBe(201);
        accounts.push(String(opened!.body.id));
        openedOwners.set(accounts[i]!, open.owner);
        const fund: Operation = { kind: 'deposit', key: `fund-${i}`, account: accounts[i]!, amount: INITIAL_DEPOSIT };
        expect((await execute(setup, fund, targets, random, answers, deadline))?.status).toBe(200);
      }

      const operations = generateOperations(random, accounts, COMMANDS);
      let next = 0;
      let done = 0;
      const schedule: Array<[number, () => Promise<InjectedFault>]> = [
        [
          0.15,
          async () => {
            const victim = instances[1]!;
            const startedAt = Date.now();
            victim.child.kill('SIGKILL');
            await victim.exited;
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            instances[1] = await launch(victim.port);
            return { name: 'SIGKILL', startedAt, endedAt: Date.now(), detail: `instance on port ${victim.port} killed and restarted` };
          },
        ],
        [0.4, restartPostgres],
        [
          0.5,
          // An instance that starts while the database is down (a fail-over during a rolling deploy)
          // must wait for it and serve, not exit into a crash loop.
          async () => {
            const victim = instances[1]!;
            victim.child.kill('SIGKILL');
            await victim.exited;
            const { result, startedAt, endedAt, version } = await withPostgresDown(4_000, () => launch(victim.port));
            instances[1] = result;
            // It tried while the database was down, and then served (launch resolves once it listens).
            expect(result.output()).toMatch(/Unable to connect to the database|Start-up step ".*" failed/);
            return {
              name: 'instance started while PostgreSQL was down',
              startedAt,
              endedAt,
              detail: `instance on port ${victim.port} killed, PostgreSQL ${version} stopped, the instance started, PostgreSQL started 4 s later`,
              databaseDown: true,
            };
          },
        ],
        [0.65, () => bounceRabbitMq(4_000)],
      ];
      const injected: Array<Promise<void>> = [];
      let faultChain: Promise<void> = Promise.resolve();
      const client = async (): Promise<void> => {
        while (next < operations.length) {
          const index = next++;
          const outcome = await execute(operations, operations[index]!, targets, random, answers, deadline);
          if (outcome) outcomes.set(index, outcome);
          done += 1;
          while (schedule.length > 0 && done >= schedule[0]![0] * operations.length) {
            const [, inject] = schedule.shift()!;
            // One fault at a time: a PostgreSQL stop must not land in the middle of its restart.
            faultChain = faultChain.then(() => inject().then((fault) => void faults.push(fault)));
            injected.push(faultChain);
          }
          await new Promise((resolve) => setTimeout(resolve, random.int(5, 40)));
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, client));
      await Promise.all(injected);
      const unresolved = operations.map((_, index) => index).filter((index) => !outcomes.has(index));

      // Settle: every transfer terminal, the outbox drained, the broker and the projection caught up.
      const transferIds = new Map<string, string>();
      operations.forEach((operation, index) => {
        const outcome = outcomes.get(index);
        if (operation.kind === 'transfer' && outcome?.status === 202) transferIds.set(String(outcome.body.id), 'pending');
      });
      const http = request(instances[0]!.url);
      await waitFor('every transfer to be terminal', 120_000, async () => {
        for (const [id, status] of transferIds) {
          if (status !== 'pending') continue;
          const answer = await http.get(`/transfers/${id}`);
          if (answer.status === 200) transferIds.set(id, String(answer.body.status));
        }
        return [...transferIds.values()].every((status) => status !== 'pending') ? true : undefined;
      }).catch(() => undefined);

      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
      try {
        await waitFor('the outbox to drain', 90_000, async () => {
          const { rows } = await pool.query<{ pending: number }>(`SELECT count(*)::int AS pending FROM "${schema}".chronicle_outbox WHERE published_at IS NULL`);
          return rows[0]!.pending === 0 ? true : undefined;
        }).catch(() => undefined);
        const events = await readJournal(pool, schema);
        operations.forEach((operation, index) => {
          const outcome = outcomes.get(index);
          if (operation.kind === 'open' && outcome?.status === 201) openedOwners.set(String(outcome.body.id), operation.owner);
        });
        const sealedProblems: string[] = [];
        const folded = foldAccounts(events, openedOwners, sealedProblems);
        await waitFor('the broker to receive every event', 30_000, async () => (checkDelivery(events, recorder.messages).ok ? true : undefined)).catch(
          () => undefined,
        );
        const projected = async () =>
          (await pool.query<{ id: string; owner: string; balance: string; closed: boolean }>(`SELECT id, owner, balance, closed FROM "${schema}".demo_account_balances`)).rows.map(
            (row) => ({ ...row, balance: Number(row.balance) }),
          );
        await waitFor('the projection to catch up', 60_000, async () => (checkProjection(await projected(), folded).ok ? true : undefined)).catch(
          () => undefined,
        );
        const { rows: deadLetters } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".chronicle_outbox WHERE dead_lettered_at IS NOT NULL`);
        const { rows: parked } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".chronicle_parked_events`);

        const replays = operations
          .map((operation, index) => ({ operation, index }))
          .filter((entry): entry is { operation: Extract<Operation, { kind: 'replay' }>; index: number } => entry.operation.kind === 'replay');
        const replayProblems = replays
          .filter(({ operation, index }) => outcomes.get(index)?.status !== outcomes.get(operation.of)?.status)
          .map(({ operation, index }) => `${operation.key}: first ${outcomes.get(operation.of)?.status}, replay ${outcomes.get(index)?.status}`);
        const results: InvariantResult[] = [
          {
            name: 'every command got a known outcome (retried with its key until then)',
            ok: unresolved.length === 0,
            detail: `${operations.length - unresolved.length} of ${operations.length} resolved`,
            problems: unresolved.slice(0, 20).map((index) => operations[index]!.key),
          },
          {
            name: 'a retry with the same Idempotency-Key gets the first outcome',
            ok: replayProblems.length === 0,
            detail: `${replays.length} replays`,
            problems: replayProblems,
          },
          checkJournal(operations, outcomes, events),
          checkMoney(operations, outcomes, ACCOUNTS * INITIAL_DEPOSIT, folded, transferIds),
          checkDelivery(events, recorder.messages),
          checkProjection(await projected(), folded),
          {
            name: "the owners' names are stored sealed (personal data)",
            ok: sealedProblems.length === 0,
            detail: `${openedOwners.size} accounts opened`,
            problems: sealedProblems.slice(0, 20),
          },
          checkAnswers(answers, faults, 15_000),
          {
            name: 'nothing dead-lettered or parked',
            ok: deadLetters[0]!.n === 0 && parked[0]!.n === 0,
            detail: `${deadLetters[0]!.n} dead-lettered outbox entries, ${parked[0]!.n} parked subscription events`,
            problems: [],
          },
        ];

        const sent = answers.length;
        const retried = [...outcomes.values()].reduce((sum, outcome) => sum + outcome.retries, 0);
        const byStatus = new Map<number, number>();
        for (const outcome of outcomes.values()) byStatus.set(outcome.status, (byStatus.get(outcome.status) ?? 0) + 1);
        const report = [
          `Reliability report (seed ${SEED}; replay with RELIABILITY_SEED=${SEED} RELIABILITY_COMMANDS=${COMMANDS} RELIABILITY_CLIENTS=${CLIENTS})`,
          `  commands: ${operations.length + 2 * ACCOUNTS} (${operations.length} random after ${2 * ACCOUNTS} set-up), ${sent} answers received, ${retried} resends of unknown outcomes`,
          `  outcomes: ${[...byStatus].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(', ')}`,
          `  faults: ${faults.map((fault) => `${fault.name} (${fault.detail}, ${fault.endedAt - fault.startedAt} ms)`).join('; ')}`,
          ...results.map((result) => `  ${result.ok ? 'OK  ' : 'FAIL'} ${result.name}: ${result.detail}${result.problems.length ? `\n         ${result.problems.join('\n         ')}` : ''}`),
        ].join('\n');
        const unhandled = launched.flatMap((instance) => instance.output().split('\n').filter((line) => /Unhandled error|ERROR/.test(line)));
        console.log(unhandled.length > 0 ? `${report}\n  errors logged by the instances:\n    ${unhandled.slice(0, 40).join('\n    ')}` : report);
        expect(faults.map((fault) => fault.name).sort()).toEqual(['PostgreSQL restart', 'RabbitMQ outage', 'SIGKILL', 'instance started while PostgreSQL was down']);
        expect(results.filter((result) => !result.ok).map((result) => `${result.name}: ${result.problems.slice(0, 5).join('; ')}`)).toEqual([]);
      } finally {
        await pool.end();
      }
    } finally {
      for (const instance of instances) if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGTERM');
      await Promise.all(instances.map((instance) => instance.exited));
      await recorder.stop();
      await drop();
    }
  }, 900_000);
});
