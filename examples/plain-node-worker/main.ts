import 'reflect-metadata';
import { pathToFileURL } from 'node:url';
import { DataSource } from 'typeorm';
import { createChronicle } from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { Account, Deposit, OpenAccount, Withdraw } from './account.aggregate.js';
import { BalancesProjection } from './balances.projection.js';
import { LogPublisher } from './log.publisher.js';
import { WelcomeBonusSaga } from './welcome-bonus.saga.js';

/** Where the worker keeps its data and what it prints to. */
export interface WorkerOptions {
  /** The SQLite file. @default ':memory:' */
  database?: string;
  /** Where lines go. @default console.log */
  print?: (line: string) => void;
}

/** What one run did, read back from the read model, the outbox handler and the aggregate. */
export interface WorkerReport {
  balances: Record<string, number>;
  published: string[];
  /** Ada's account as the aggregate sees it after the commands. */
  ada: { owner: string; balance: number; version: number };
  /** The retried command was answered from its recorded outcome, not run twice. */
  retryReplayed: boolean;
  /** The runtime's state after stop ('stopped') and the timers it still held (0). */
  finalState: string;
  timersAfterStop: number;
}

/**
 * A plain Node worker: Chronicle on SQLite without Nest. It opens the database, builds the stores
 * and the runtime, runs a few commands, lets the projection, the saga and the outbox catch up,
 * then stops (draining what is in flight).
 */
export async function main(options: WorkerOptions = {}): Promise<WorkerReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  const dataSource = new DataSource({ type: 'better-sqlite3', database: options.database ?? ':memory:' });
  await dataSource.initialize();
  try {
    await BalancesProjection.createTable(dataSource.manager);
    const publisher = new LogPublisher(print);
    const chronicle = createChronicle({
      storage: createTypeOrmStorage(dataSource),
      aggregates: [Account],
      outboxHandlers: [publisher],
      projections: [new BalancesProjection()],
      sagas: [new WelcomeBonusSaga()],
      logger: (context) => ({ log: (m) => print(`[${context}] ${m}`), warn: (m) => print(`[${context}] ${m}`), error: (m) => print(`[${context}] ${m}`) }),
    });
    await chronicle.start(); // migrates Chronicle's tables, then starts the relay and the runners

    await chronicle.execute(new OpenAccount('ada', 'Ada'));
    await chronicle.execute(new Deposit('ada', 100), { commandId: 'deposit-1' });
    const retry = await chronicle.execute(new Deposit('ada', 100), { commandId: 'deposit-1' });
    await chronicle.execute(new Withdraw('ada', 30));
    await chronicle.execute(new OpenAccount('bob', 'Bob'));
    const last = await chronicle.execute<object, Account>(new Deposit('bob', 5));
    print(`bob's balance right after his deposit: ${last.state?.balance}`);

    // The background work runs on its own (woken by each commit, polled every second); a worker
    // about to stop can hurry it. The saga's deposits are new events: repeat until nothing moves.
    for (let before = -1; before !== publisher.lines.length; ) {
      before = publisher.lines.length;
      await chronicle.flush();
    }

    const ada = await chronicle.read(Account, 'ada');
    const rows = (await dataSource.query(`SELECT account_id, balance FROM ${BalancesProjection.TABLE} ORDER BY account_id`)) as Array<{
      account_id: string;
      balance: number;
    }>;
    await chronicle.stop();

    const report: WorkerReport = {
      balances: Object.fromEntries(rows.map((row) => [row.account_id, Number(row.balance)])),
      published: [...publisher.lines],
      ada: { owner: ada?.state.owner ?? '', balance: ada?.state.balance ?? 0, version: ada?.version ?? 0 },
      retryReplayed: retry.replayed,
      finalState: chronicle.state,
      timersAfterStop: chronicle.timerCount,
    };
    print(`balances: ${JSON.stringify(report.balances)}`);
    return report;
  } finally {
    await dataSource.destroy();
  }
}

// Run as a program (node dist/examples/plain-node-worker/main.js [file.sqlite]), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main({ database: process.argv[2] ?? ':memory:' }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
