import type { Type } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import amqp from 'amqplib';
import pg from 'pg';
import type { OutboxStore } from '@chronicle/core';
import { CHRONICLE_OUTBOX_STORE, EventSourcingModule, type OutboxModuleOptions } from '@chronicle/nestjs';
import { Ledger } from '../fixtures/ledger.aggregate.js';
import { AMQP_URL, POSTGRES_URL, createSchema, uniqueSchemaName } from './services.js';

/** Polls until `check` holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Nest applications with the ledger aggregate on one fresh PostgreSQL schema, closed together. */
export class OutboxTestApps {
  readonly schema = uniqueSchemaName('chr_outbox');
  private drop: (() => Promise<void>) | undefined;
  private readonly apps: TestingModule[] = [];

  async open(): Promise<void> {
    this.drop = await createSchema(this.schema);
  }

  /** An application instance with these outbox handler providers. */
  async boot(handlers: Type[], outbox: OutboxModuleOptions = {}): Promise<TestingModule> {
    const app = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', driver: pg, url: POSTGRES_URL, extra: { max: 4 } }),
        CqrsModule.forRoot(),
        ScheduleModule.forRoot(),
        EventSourcingModule.forRoot({ aggregates: [Ledger], tables: { schema: this.schema }, outbox: { pollIntervalMs: 100, leaseMs: 5_000, ...outbox } }),
      ],
      providers: handlers,
    }).compile();
    await app.init();
    this.apps.push(app);
    return app;
  }

  /** Closes one application now (it will not be closed again). */
  async closeOne(app: TestingModule): Promise<void> {
    this.apps.splice(this.apps.indexOf(app), 1);
    await app.close();
  }

  async close(): Promise<void> {
    await Promise.all(this.apps.splice(0).map((app) => app.close()));
    await this.drop?.();
  }
}

/** The outbox store of an application. */
export function outboxStoreOf(app: TestingModule): OutboxStore {
  return app.get<OutboxStore>(CHRONICLE_OUTBOX_STORE);
}

/** What a consumer of an exchange received, in arrival order. */
export interface ReceivedMessage {
  id: string;
  aggregateId: string;
  version: number;
}

/** Records every message of a topic exchange through an exclusive queue bound to '#'. */
export async function recordExchange(exchange: string): Promise<{ messages: ReceivedMessage[]; close: () => Promise<void> }> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, '#');
  const messages: ReceivedMessage[] = [];
  await channel.consume(queue, (message) => {
    if (!message) return;
    const body = JSON.parse(message.content.toString()) as { aggregateId: string; version: number };
    messages.push({ id: String(message.properties.messageId), aggregateId: body.aggregateId, version: body.version });
    channel.ack(message);
  });
  return { messages, close: () => connection.close() };
}

/** Asserts per aggregate: every version 1..n arrived, and first arrivals are in version order. */
export function expectInOrderAndComplete(messages: readonly ReceivedMessage[], expected: ReadonlyMap<string, number>): void {
  for (const [aggregateId, count] of expected) {
    const firstSeen: number[] = [];
    for (const m of messages) if (m.aggregateId === aggregateId && !firstSeen.includes(m.version)) firstSeen.push(m.version);
    expect({ aggregateId, versions: firstSeen }).toEqual({ aggregateId, versions: Array.from({ length: count }, (_, i) => i + 1) });
  }
}
