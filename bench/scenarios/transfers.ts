import { randomBytes, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import pg from 'pg';
import { CommandGateway, type CommittedCommand, type FeedCursor, type Journal } from '@chronicle/core';
import { CHRONICLE_JOURNAL, SubscriptionAdmin } from '@chronicle/nestjs';
import { Account } from '../../apps/demo/src/accounts/account.aggregate.js';
import { DepositMoney } from '../../apps/demo/src/accounts/commands/deposit-money.command.js';
import { OpenAccount } from '../../apps/demo/src/accounts/commands/open-account.command.js';
import { AppModule } from '../../apps/demo/src/app.module.js';
import type { DemoConfig } from '../../apps/demo/src/config/demo-config.js';
import { RequestTransfer } from '../../apps/demo/src/transfers/commands/request-transfer.command.js';
import { TransferCompleted } from '../../apps/demo/src/transfers/events/transfer-completed.event.js';
import { TransferFailed } from '../../apps/demo/src/transfers/events/transfer-failed.event.js';
import { closedLoop, forEachConcurrent, waitFor } from '../support/load.js';
import { POSTGRES_URL, freshSchema, pgQuery } from '../support/postgres.js';
import { formatRatio, ratio, round, summarize } from '../support/stats.js';
import type { LoadResult, ResultChart, ScenarioOutput, TargetCheck } from '../support/types.js';
import type { Scenario, ScenarioContext } from './scenario.js';

type Variant = 'baseline' | 'chronicle';

/** Transfers/s at 16 callers against the hand-written transaction's, in the same run (issue 20). */
const TARGET_RATIO_16 = 0.5;
/** Median request-to-terminal latency with one caller, in ms (issue 20). */
const TARGET_P50_1_MS = 5;

/** How a transfer ended, as its terminal command reported it. */
interface Terminal {
  status: 'completed' | 'failed';
  reason?: string;
}

/**
 * Caller `caller` of `callers` only moves money between its own accounts (index ≡ caller mod
 * callers), from its j-th to its (j+1)-th: no two callers ever touch one account, so neither
 * variant waits on another caller's row locks (and the baseline cannot deadlock).
 */
function pair(caller: number, iteration: number, callers: number, accounts: number): [number, number] {
  const perCaller = Math.max(2, Math.floor(accounts / callers));
  return [caller + callers * (iteration % perCaller), caller + callers * ((iteration + 1) % perCaller)];
}

/** 1–100 cents, varying with the iteration. */
function amountOf(iteration: number): number {
  return 1 + (iteration % 100);
}

/** The demo application booted as a Nest application context, with what the scenario drives and checks. */
interface Demo {
  context: INestApplicationContext;
  commandBus: CommandBus;
  gateway: CommandGateway;
  journal: Journal;
  admin: SubscriptionAdmin;
  /** Transfer id → resolve, for transfers whose terminal command has not committed yet. */
  waiting: Map<string, (terminal: Terminal) => void>;
  /** Transfers requested and not yet terminal (whether or not their caller still waits). */
  inFlight: Set<string>;
  /** The newest feed position a command reached (for waiting on the balances projection). */
  lastCursor: FeedCursor | undefined;
  terminals: { completed: number; failed: number; failedSamples: string[] };
}

async function bootDemo(schema: string, tempDir: string): Promise<Demo> {
  const config: DemoConfig = {
    databaseUrl: POSTGRES_URL,
    // Unused with a databaseUrl; a path inside the scenario's temp dir, in case.
    sqlitePath: join(tempDir, 'unused.sqlite'),
    schema,
    port: 0,
    amqpUrl: undefined,
    subscriptions: { pollIntervalMs: 1_000 },
    // The owners' names are personal data: a fresh master key per run (the schema is fresh too).
    masterKeys: { current: { id: 'bench', key: randomBytes(32).toString('base64') } },
  };
  const context = await NestFactory.createApplicationContext(AppModule.forConfig(config), { logger: ['error', 'warn'], abortOnError: false });
  const demo: Demo = {
    context,
    commandBus: context.get(CommandBus),
    gateway: context.get(CommandGateway),
    journal: context.get<Journal>(CHRONICLE_JOURNAL),
    admin: context.get(SubscriptionAdmin),
    waiting: new Map(),
    inFlight: new Set(),
    lastCursor: undefined,
    terminals: { completed: 0, failed: 0, failedSamples: [] },
  };
  // Terminal status without polling: the saga's CompleteTransfer / FailTransfer commits carry the
  // TransferCompleted / TransferFailed events, and every commit passes the gateway's listeners.
  demo.gateway.addListener({
    afterCommit: ({ result }: CommittedCommand) => {
      if (result.cursor && (demo.lastCursor === undefined || demo.journal.compareCursors(result.cursor, demo.lastCursor) > 0)) demo.lastCursor = result.cursor;
      for (const event of result.events) {
        let terminal: Terminal | undefined;
        let transferId: string | undefined;
        if (event instanceof TransferCompleted) {
          terminal = { status: 'completed' };
          transferId = event.transferId;
          demo.terminals.completed++;
        } else if (event instanceof TransferFailed) {
          terminal = { status: 'failed', reason: event.reason };
          transferId = event.transferId;
          demo.terminals.failed++;
          if (demo.terminals.failedSamples.length < 5) demo.terminals.failedSamples.push(`${event.transferId}: ${event.reason}`);
        }
        if (!terminal || transferId === undefined) continue;
        demo.inFlight.delete(transferId);
        const resolve = demo.waiting.get(transferId);
        demo.waiting.delete(transferId);
        resolve?.(terminal);
      }
    },
  });
  return demo;
}

/** One transfer through the demo: RequestTransfer on the CommandBus, then wait (no polling) for its terminal command. */
async function chronicleTransfer(demo: Demo, transferId: string, from: string, to: string, amount: number, timeoutMs: number, acks: number[] | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const terminal = new Promise<Terminal>((resolve, reject) => {
    demo.waiting.set(transferId, resolve);
    timer = setTimeout(() => {
      demo.waiting.delete(transferId);
      reject(new Error(`transfer ${transferId} was not terminal after ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  // Registered before the request, so a terminal commit can never pass unseen; handled at once, so
  // a timeout never becomes an unhandled rejection while the request is still on its way.
  terminal.catch(() => undefined);
  demo.inFlight.add(transferId);
  const started = performance.now();
  try {
    await demo.commandBus.execute(new RequestTransfer(transferId, from, to, amount));
  } catch (error) {
    clearTimeout(timer);
    demo.waiting.delete(transferId);
    demo.inFlight.delete(transferId);
    throw error;
  }
  acks?.push(performance.now() - started);
  try {
    const outcome = await terminal;
    if (outcome.status !== 'completed') throw new Error(`transfer ${transferId} failed: ${outcome.reason ?? '(no reason)'}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The hand-written baseline: the same money movement per transfer in one transaction on its own
 * tables in the schema, over a pg.Pool. BEGIN; debit (only if the balance covers it); credit;
 * INSERT the transfer with its status; COMMIT.
 */
class PostgresTransferBaseline {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  static async open(schema: string, poolSize: number, ids: readonly string[], balance: number): Promise<PostgresTransferBaseline> {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: poolSize });
    const s = `"${schema}"`;
    await pool.query(`CREATE TABLE ${s}.base_accounts (id text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))`);
    await pool.query(
      `CREATE TABLE ${s}.base_transfers (id uuid PRIMARY KEY, from_account text NOT NULL, to_account text NOT NULL, amount bigint NOT NULL, ` +
        `status text NOT NULL, reason text, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    await pool.query(`INSERT INTO ${s}.base_accounts (id, balance) SELECT unnest($1::text[]), $2`, [ids, balance]);
    return new PostgresTransferBaseline(pool, s);
  }

  async transfer(transferId: string, from: string, to: string, amount: number): Promise<void> {
    const s = this.s;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const debit = await client.query(`UPDATE ${s}.base_accounts SET balance = balance - $2 WHERE id = $1 AND balance >= $2 RETURNING balance`, [from, amount]);
        let status = 'completed';
        let reason: string | null = null;
        if (debit.rowCount === 0) {
          status = 'failed';
          reason = `insufficient funds in ${from}`;
        } else {
          const credit = await client.query(`UPDATE ${s}.base_accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance`, [to, amount]);
          if (credit.rowCount === 0) throw new Error(`baseline account ${to} does not exist`);
        }
        await client.query(
          `INSERT INTO ${s}.base_transfers (id, from_account, to_account, amount, status, reason) VALUES ($1, $2, $3, $4, $5, $6)`,
          [transferId, from, to, amount, status, reason],
        );
        await client.query('COMMIT');
        if (status !== 'completed') throw new Error(`baseline transfer ${transferId} failed: ${reason ?? ''}`);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  async totals(): Promise<{ accounts: number; sum: number; transfers: number }> {
    const [accounts] = (await this.pool.query<{ n: string; sum: string }>(`SELECT count(*) AS n, sum(balance) AS sum FROM ${this.s}.base_accounts`)).rows;
    const [transfers] = (await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.s}.base_transfers`)).rows;
    return { accounts: Number(accounts?.n), sum: Number(accounts?.sum), transfers: Number(transfers?.n) };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The balances through the gateway (the aggregates' own state) and through the balances projection. */
async function conservation(demo: Demo, schema: string, ids: readonly string[], expected: number): Promise<{ gatewaySum: number; projectionSum: number; projectionRows: number }> {
  let gatewaySum = 0;
  await forEachConcurrent(ids, 16, async (id) => {
    const view = await demo.gateway.read(Account, id);
    if (!view) throw new Error(`account ${id} does not exist`);
    gatewaySum += view.state.balance;
  });
  if (demo.lastCursor) await demo.admin.waitForProjection('balances', demo.lastCursor, 60_000);
  const [row] = await pgQuery<{ n: string; sum: string }>(`SELECT count(*) AS n, sum(balance) AS sum FROM "${schema}".demo_account_balances`);
  const result = { gatewaySum, projectionSum: Number(row?.sum), projectionRows: Number(row?.n) };
  if (gatewaySum !== expected) throw new Error(`money was not conserved: the accounts hold ${gatewaySum} cents through the gateway, expected ${expected}`);
  if (result.projectionRows !== ids.length || result.projectionSum !== expected) {
    throw new Error(`the balances projection shows ${result.projectionSum} cents over ${result.projectionRows} accounts, expected ${expected} over ${ids.length}`);
  }
  return result;
}

interface TransferResult extends LoadResult {
  variant: Variant;
  /** Chronicle: time until RequestTransfer was acknowledged (p50/p99 over the measured window). */
  ackP50Ms?: number;
  ackP99Ms?: number;
}

async function run(context: ScenarioContext): Promise<ScenarioOutput> {
  const params = context.params.transfers;
  const schema = await freshSchema(`${context.mode}_transfers`);
  const ids = Array.from({ length: params.accounts }, (_, i) => `bench-acct-${String(i).padStart(4, '0')}`);
  const expected = params.accounts * params.initialBalance;
  let demo: Demo | undefined;
  let baseline: PostgresTransferBaseline | undefined;
  const results: TransferResult[] = [];
  const checks: string[] = [];
  try {
    const bootStarted = performance.now();
    demo = await bootDemo(schema.schema, context.tempDir);
    const booted = demo;
    context.log(`demo application context up in ${Math.round(performance.now() - bootStarted)} ms`);
    const openStarted = performance.now();
    await forEachConcurrent(ids, 32, async (id) => {
      // One owner per account: the demo holds an owner to CHRONICLE_MAX_OPEN_ACCOUNTS_PER_OWNER open accounts.
      await booted.commandBus.execute(new OpenAccount(id, `bench-${id}`));
      await booted.commandBus.execute(new DepositMoney(id, params.initialBalance));
    });
    context.log(`opened and funded ${ids.length} accounts in ${Math.round(performance.now() - openStarted)} ms`);
    baseline = await PostgresTransferBaseline.open(schema.schema, params.poolSize, ids, params.initialBalance);
    const base = baseline;

    for (const callers of params.callers) {
      const baseResult = await closedLoop({
        label: `baseline c${callers}`,
        callers,
        warmupMs: params.warmupMs,
        durationMs: params.durationMs,
        op: (caller, iteration) => {
          const [from, to] = pair(caller, iteration, callers, ids.length);
          return base.transfer(randomUUID(), ids[from]!, ids[to]!, amountOf(iteration));
        },
        measureDbCpu: true,
      });
      results.push({ ...baseResult, variant: 'baseline' });
      context.log(
        `baseline  callers=${String(callers).padStart(2)}  ${Math.round(baseResult.opsPerSec)} transfers/s  p50 ${round(baseResult.p50Ms)} ms  p99 ${round(baseResult.p99Ms)} ms  errors ${baseResult.errors}`,
      );

      const acks: number[] = [];
      const measureFrom = performance.now() + params.warmupMs;
      const chronicleResult = await closedLoop({
        label: `chronicle c${callers}`,
        callers,
        warmupMs: params.warmupMs,
        durationMs: params.durationMs,
        op: (caller, iteration) => {
          const [from, to] = pair(caller, iteration, callers, ids.length);
          return chronicleTransfer(booted, randomUUID(), ids[from]!, ids[to]!, amountOf(iteration), params.opTimeoutMs, performance.now() >= measureFrom ? acks : undefined);
        },
        measureDbCpu: true,
      });
      const ack = summarize(acks);
      results.push({ ...chronicleResult, variant: 'chronicle', ackP50Ms: ack.p50, ackP99Ms: ack.p99 });
      context.log(
        `chronicle callers=${String(callers).padStart(2)}  ${Math.round(chronicleResult.opsPerSec)} transfers/s  p50 ${round(chronicleResult.p50Ms)} ms  ` +
          `p99 ${round(chronicleResult.p99Ms)} ms  (request ack p50 ${round(ack.p50)} ms)  errors ${chronicleResult.errors}`,
      );
      // Let the balances projection (and any transfer a timed-out caller left behind) catch up
      // before the next measurement, so it does not run beside it.
      await waitFor(() => booted.inFlight.size === 0, params.opTimeoutMs, 20);
      if (booted.lastCursor) await booted.admin.waitForProjection('balances', booted.lastCursor, 60_000);
    }

    // Every transfer must have ended, the saga must hold no active instance, and no money may have moved out of thin air.
    const settled = await waitFor(() => booted.inFlight.size === 0, params.opTimeoutMs, 50);
    if (!settled) throw new Error(`${booted.inFlight.size} transfer(s) never reached a terminal status within ${params.opTimeoutMs / 1000} s after the load`);
    const active = await booted.admin.sagaInstances('money-transfer', { status: 'active', limit: 10 });
    if (active.length > 0) throw new Error(`${active.length} money-transfer saga instance(s) still active after every transfer was terminal, e.g. ${active[0]!.correlationId}`);
    const money = await conservation(booted, schema.schema, ids, expected);
    checks.push(
      `Chronicle: ${booted.terminals.completed} transfers completed, ${booted.terminals.failed} failed; no saga instance active; the ${ids.length} accounts hold ${money.gatewaySum} cents through the gateway ` +
        `and ${money.projectionSum} in the balances projection (expected ${expected}).`,
    );
    const baseTotals = await base.totals();
    if (baseTotals.sum !== expected) throw new Error(`the baseline did not conserve money: ${baseTotals.sum} cents, expected ${expected}`);
    checks.push(`Baseline: ${baseTotals.transfers} transfers recorded; its ${baseTotals.accounts} accounts hold ${baseTotals.sum} cents (expected ${expected}).`);
    context.log(`money conserved: ${checks.join(' ')}`);
  } finally {
    await baseline?.close().catch(() => undefined);
    await demo?.context.close().catch((error: unknown) => context.log(`closing the demo failed: ${(error as Error).message}`));
    await schema.drop().catch(() => undefined);
  }
  return report(params, results, checks);
}

function report(params: ScenarioContext['params']['transfers'], results: TransferResult[], checks: string[]): ScenarioOutput {
  const find = (variant: Variant, callers: number) => results.find((r) => r.variant === variant && r.callers === callers);
  const rows: Array<Array<string | number>> = [];
  const chart: ResultChart = { title: 'Transfers/s, request to terminal status', kind: 'bar', xLabels: [], yLabel: 'transfers/s', values: [] };
  for (const callers of params.callers) {
    for (const variant of ['baseline', 'chronicle'] as const) {
      const r = find(variant, callers);
      if (!r) continue;
      const base = find('baseline', callers);
      rows.push([
        callers,
        variant === 'baseline' ? 'hand-written pg transaction' : 'demo app: RequestTransfer → saga → terminal',
        Math.round(r.opsPerSec),
        round(r.p50Ms),
        round(r.p99Ms),
        r.ackP50Ms === undefined ? '–' : `${round(r.ackP50Ms)} / ${round(r.ackP99Ms ?? 0)}`,
        variant === 'baseline' ? '1.00×' : formatRatio(ratio(r.opsPerSec, base?.opsPerSec ?? 0)),
        r.ops,
        r.errors,
        Math.round(r.cpuPct),
        r.dbCpuPct === undefined ? 'n/a' : Math.round(r.dbCpuPct),
        r.peakRssMb,
      ]);
      chart.xLabels.push(`${variant === 'baseline' ? 'base' : 'chronicle'} c${callers}`);
      chart.values.push(Math.round(r.opsPerSec));
    }
  }
  const targets: TargetCheck[] = params.callers.flatMap((callers): TargetCheck[] => {
    const r = find('chronicle', callers);
    const base = find('baseline', callers);
    if (!r || !base) return [];
    const vsBaseline = ratio(r.opsPerSec, base.opsPerSec);
    // Issue 20's targets: 16 callers at half the hand-written transaction or more; 1 caller's p50 within 5 ms.
    const target =
      callers === 16
        ? { text: `≥ ${formatRatio(TARGET_RATIO_16)} the hand-written transaction`, met: vsBaseline >= TARGET_RATIO_16 }
        : callers === 1
          ? { text: `p50 ≤ ${TARGET_P50_1_MS} ms`, met: r.p50Ms <= TARGET_P50_1_MS }
          : undefined;
    return [
      {
        scenario: 'transfers',
        name: `Transfers end to end through the demo's saga, ${callers} caller${callers > 1 ? 's' : ''}`,
        target: target?.text ?? '(none stated: reported against the hand-written transaction)',
        measured:
          `${Math.round(r.opsPerSec)} transfers/s, p50 ${round(r.p50Ms)} ms, p99 ${round(r.p99Ms)} ms ` +
          `(${formatRatio(vsBaseline)} the baseline's ${Math.round(base.opsPerSec)}/s)`,
        status: target === undefined ? 'INFO' : target.met ? 'PASS' : 'MISS',
      },
    ];
  });
  const errorNotes = results.filter((r) => r.errors > 0).map((r) => `${r.label}: ${r.errors} failed transfers, e.g. ${r.errorSamples[0] ?? '?'}`);
  const thinNotes = results
    .filter((r) => r.ops < 20)
    .map(
      (r) =>
        `${r.label}: only ${r.ops} transfer(s) began and finished inside the ${params.durationMs / 1000} s window (a transfer started in the warm-up is not counted): ` +
        'the figures are rough; the full run measures longer.',
    );
  return {
    settings: {
      storage: 'postgres',
      application:
        "apps/demo AppModule.forConfig({ databaseUrl, schema: <fresh schema>, subscriptions: { pollIntervalMs: 1000 }, amqpUrl: undefined }) as a Nest application context " +
        '(NestFactory.createApplicationContext): the Account and Transfer aggregates, the money-transfer saga, the balances projection, the outbox to the log publisher (relay on), module defaults otherwise; ' +
        'transferStepTimeoutMs at its default (30 s)',
      accounts: `${params.accounts}, each opened (OpenAccount) and funded (DepositMoney ${params.initialBalance} cents) through the CommandBus before measuring`,
      callers: params.callers,
      warmupMs: `${params.warmupMs} per measurement`,
      durationMs: `${params.durationMs} measured per measurement (one round)`,
      operation:
        'Chronicle: RequestTransfer(transferId, from, to, 1–100 cents) through the CommandBus, then await the transfer\'s terminal status: a PostCommitListener on the CommandGateway resolves the caller when the saga\'s CompleteTransfer/FailTransfer commits TransferCompleted/TransferFailed (no polling). ' +
        `A transfer not terminal after ${params.opTimeoutMs / 1000} s counts as an error. Latency is request to terminal status; "request ack" is until RequestTransfer returned.`,
      saga:
        'per transfer the saga handles TransferRequested and dispatches WithdrawMoney, DepositMoney and CompleteTransfer, each a command with a deterministic id, awaited in turn; ' +
        'its subscription pipelines instances (up to 16 handled at once, the feed read again on each wake-up while they run, their states committed in feed order, many instances per transaction)',
      baseline: `hand-written pg over a pg.Pool of ${params.poolSize}: BEGIN; UPDATE base_accounts … balance - amount WHERE id = from AND balance >= amount RETURNING; UPDATE … + amount WHERE id = to; INSERT the transfer row with its status; COMMIT (tables in the same schema)`,
      callerAssignment: 'caller k only moves money between accounts ≡ k (mod callers), from its j-th to its (j+1)-th: no two callers ever touch one account',
      order: 'per caller count: baseline, then chronicle; after each chronicle measurement the balances projection is let catch up before the next one starts',
      checks: 'afterwards: every transfer terminal, no money-transfer saga instance active, the sum of balances through CommandGateway.read and in the balances projection table equal to the initial total (and the same for the baseline\'s tables); the scenario fails otherwise',
    },
    metrics: { results, checks },
    tables: [
      {
        title: 'Transfers/s end to end (request to terminal status), PostgreSQL',
        columns: [
          'callers',
          'variant',
          'transfers/s',
          'p50 ms',
          'p99 ms',
          'request ack p50 / p99 ms',
          'vs baseline',
          'transfers measured',
          'errors',
          'Node CPU %',
          'PostgreSQL CPU %',
          'peak RSS MiB',
        ],
        rows,
        caption:
          'The demo\'s path per transfer: RequestTransfer commits; the saga subscription picks TransferRequested up from the feed and runs WithdrawMoney, DepositMoney and CompleteTransfer through the CommandBus, saving its state with each event; ' +
          'the balances projection and the outbox relay follow the same commits. The baseline is one transaction doing the money movement. Ratios divide by the baseline at the same caller count in this run. ' +
          `Node CPU = user+system time of the benchmark process (100 % = one core; the machine has ${cpus().length}, shared with the database); PostgreSQL CPU = the same for every local postgres process.`,
      },
    ],
    charts: [chart],
    targets,
    notes: [...checks, ...errorNotes, ...thinNotes],
  };
}

export const transfers: Scenario = {
  id: 'transfers',
  title: '6b. Transfers end to end through the demo\'s saga (request to terminal status)',
  needs: ['postgres'],
  timeoutMs: { full: 240_000, quick: 60_000 },
  run,
};
