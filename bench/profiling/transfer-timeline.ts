import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { NestFactory } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import { CommandGateway, type CommittedCommand } from '@chronicle/core';
import { DepositMoney } from '../../apps/demo/src/accounts/commands/deposit-money.command.js';
import { OpenAccount } from '../../apps/demo/src/accounts/commands/open-account.command.js';
import { AppModule } from '../../apps/demo/src/app.module.js';
import type { DemoConfig } from '../../apps/demo/src/config/demo-config.js';
import { RequestTransfer } from '../../apps/demo/src/transfers/commands/request-transfer.command.js';
import { POSTGRES_URL, freshSchema } from '../support/postgres.js';

/*
 * Where one transfer's time goes, one caller at a time: `node dist/bench/profiling/transfer-timeline.js`.
 * Not a scenario (no target, no result file): the breakdown behind the `transfers` figures. Boots
 * the demo as that scenario does (PostgreSQL, a fresh schema), runs N transfers one after the
 * other, and prints the median (and 90th percentile) time from the request to each commit a
 * transfer makes, after the time of a lone DepositMoney. Options: N=<transfers> (the first 20 are
 * not counted), PAUSE=<ms between the deposits>, KEEP=1 keeps the schema (to read its plans).
 */

const N = Number(process.env.N ?? 300);

async function main(): Promise<void> {
  const schema = await freshSchema('profile_transfers');
  const config: DemoConfig = {
    databaseUrl: POSTGRES_URL,
    sqlitePath: join(tmpdir(), 'unused.sqlite'),
    schema: schema.schema,
    port: 0,
    amqpUrl: undefined,
    subscriptions: { pollIntervalMs: 1_000 },
    masterKeys: { current: { id: 'bench', key: randomBytes(32).toString('base64') } },
  };
  const context = await NestFactory.createApplicationContext(AppModule.forConfig(config), { logger: ['error', 'warn'] });
  try {
    const bus = context.get(CommandBus);
    const gateway = context.get(CommandGateway);
    let marks: Array<[string, number]> = [];
    let done: (() => void) | undefined;
    gateway.addListener({
      afterCommit: ({ command, result }: CommittedCommand) => {
        marks.push([command.constructor.name, performance.now()]);
        if (result.events.some((event) => event.constructor.name === 'TransferCompleted')) done?.();
      },
    });
    for (const id of ['a', 'b']) {
      await bus.execute(new OpenAccount(id, `owner-${id}`));
      await bus.execute(new DepositMoney(id, 1_000_000));
    }
    const deposits: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      await bus.execute(new DepositMoney('a', 1));
      deposits.push(performance.now() - started);
      if (process.env.PAUSE) await new Promise((resolve) => setTimeout(resolve, Number(process.env.PAUSE)));
    }
    deposits.sort((x, y) => x - y);
    console.log(`DepositMoney alone p50 ${deposits[150]!.toFixed(2)} ms p90 ${deposits[270]!.toFixed(2)} ms`);
    const rows = new Map<string, number[]>();
    for (let i = 0; i < N; i++) {
      marks = [];
      const finished = new Promise<void>((resolve) => (done = resolve));
      const started = performance.now();
      await bus.execute(new RequestTransfer(randomUUID(), i % 2 ? 'a' : 'b', i % 2 ? 'b' : 'a', 1));
      const acked = performance.now();
      await finished;
      const ended = performance.now();
      if (i < 20) continue;
      const add = (key: string, ms: number) => rows.set(key, [...(rows.get(key) ?? []), ms]);
      add('ack', acked - started);
      let previous = started;
      for (const [name, at] of marks) {
        add(`commit ${name} (since previous)`, at - previous);
        previous = at;
      }
      add('total', ended - started);
    }
    for (const [key, values] of rows) {
      values.sort((x, y) => x - y);
      console.log(`${key.padEnd(44)} p50 ${values[Math.floor(values.length / 2)]!.toFixed(2)} ms  p90 ${values[Math.floor(values.length * 0.9)]!.toFixed(2)} ms`);
    }
  } finally {
    await context.close();
    if (!process.env.KEEP) await schema.drop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
