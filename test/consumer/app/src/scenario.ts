import 'reflect-metadata';
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import { withCommandMetadata, type CommandResult } from '@chronicle/core';
import { ChronicleExceptionFilter } from '@chronicle/nestjs';
import { AppModule, type Target } from './app.module.js';
import { BalancesProjection } from './wallet/balances.projection.js';
import { RecordingPublisher } from './wallet/recording.publisher.js';
import { Deposit, OpenWallet } from './wallet/wallet.commands.js';
import { WELCOME_BONUS } from './wallet/welcome-bonus.saga.js';

/** Polls until `check` holds (the projection, the saga and the outbox run in the background). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function post(base: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * Boots the application on `target` and proves, through the installed packages: an aggregate, an
 * idempotent command through the CommandBus, a projection, an outbox handler, a saga, and errors
 * mapped to HTTP by the exported ChronicleExceptionFilter. Returns the wallet id it used.
 */
export async function runScenario(target: Target, more?: (app: INestApplication, walletId: string) => Promise<void>): Promise<void> {
  const app = await NestFactory.create(AppModule.forTarget(target), { logger: ['error', 'warn'] });
  app.useGlobalFilters(new ChronicleExceptionFilter());
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
  try {
    const commandBus = app.get(CommandBus);
    const walletId = `wallet-${randomUUID()}`;

    // An aggregate, created by a command.
    const opened: CommandResult = await commandBus.execute(withCommandMetadata(new OpenWallet(walletId, 'Ada'), { commandId: `${walletId}:open` }));
    equal(opened.version, 1, 'the wallet is opened at version 1');

    // An idempotent command: the same command id twice gives the first outcome and writes nothing.
    const first: CommandResult = await commandBus.execute(withCommandMetadata(new Deposit(walletId, 100), { commandId: `${walletId}:deposit` }));
    const again: CommandResult = await commandBus.execute(withCommandMetadata(new Deposit(walletId, 100), { commandId: `${walletId}:deposit` }));
    equal(first.replayed, false);
    equal(again.replayed, true, 'a resent command is answered from the recorded outcome');
    // A replayed outcome carries no state (readAt rebuilds it); everything else is the first outcome.
    equal(again.state, undefined, 'a replayed outcome carries no state');
    deepStrictEqual(
      { ...again, replayed: false, state: undefined, events: again.events.map((e) => ({ ...e })) },
      { ...first, state: undefined, events: first.events.map((e) => ({ ...e })) },
      'with the first outcome',
    );

    // The saga deposits the welcome bonus; the projection sees the deposit once and the bonus.
    const projection = app.get(BalancesProjection);
    await eventually('the projection to show the deposit and the saga bonus', () => projection.balances.get(walletId) === 100 + WELCOME_BONUS);

    // The outbox handler receives every event of the wallet: opened, deposit, bonus.
    const recorder = app.get(RecordingPublisher);
    await eventually('the outbox handler to receive 3 events', () => recorder.published.filter((m) => m.aggregateId === walletId).length === 3);
    deepStrictEqual(
      recorder.published.filter((m) => m.aggregateId === walletId).map((m) => m.eventType),
      ['wallet.opened', 'wallet.deposited', 'wallet.deposited'],
    );

    // Errors over HTTP through the exported filter: a domain rule gives 422, in Nest's body shape.
    const refused = await post(base, `/wallets/${walletId}/withdraw`, { amount: 1_000 });
    equal(refused.status, 422, `a broken rule gives 422, got ${refused.status} ${JSON.stringify(refused.body)}`);
    equal(refused.body.statusCode, 422);
    ok(String(refused.body.message).includes('Insufficient funds'), `the message names the rule: ${JSON.stringify(refused.body)}`);
    ok(!JSON.stringify(refused.body).includes('    at '), 'no stack reaches the client');
    const invalid = await post(base, `/wallets/${walletId}/withdraw`, { amount: -1 });
    equal(invalid.status, 400, `an invalid command gives 400, got ${invalid.status} ${JSON.stringify(invalid.body)}`);
    const accepted = await post(base, `/wallets/${walletId}/withdraw`, { amount: 5 });
    equal(accepted.status, 201, `an allowed withdrawal gives 201, got ${accepted.status} ${JSON.stringify(accepted.body)}`);
    await eventually('the projection to show the withdrawal', () => projection.balances.get(walletId) === 100);

    await more?.(app, walletId);
    console.log(`consumer ${target.name}: aggregate, idempotent command, projection, outbox handler, saga and exception filter OK`);
  } finally {
    await app.close();
  }
}
