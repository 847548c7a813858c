// An application on SQLite, run by optional-peers.int-spec.ts with amqplib, pg, @nestjs/terminus,
// @nestjs/microservices and NATS unresolvable (register.mjs): it boots, runs a command through the
// CommandBus, a projection, a saga and the outbox with a log and a custom publisher, and answers
// errors through ChronicleExceptionFilter. It prints one JSON line of what it saw.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Injectable, Module, Param, Post as HttpPost } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { On, Saga, StartsSaga, Projection, type OutboxMessage, type OutboxPublisher, type ProjectionContext, type SagaContext } from '@chronicle/core';
import { ChronicleExceptionFilter, EventSourcingModule, LogOutboxPublisher, OutboxHandler, OutboxRelayService, SubscriptionsService } from '@chronicle/nestjs';
import { PostgresNotificationListener } from '@chronicle/typeorm';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted, Reverse } from '../fixtures/ledger.aggregate.js';

const totals = new Map<string, number>();
const published: string[] = [];

@Projection({ name: 'totals' })
@Injectable()
class TotalsProjection {
  @On(Posted)
  posted(event: Posted, _ctx: ProjectionContext): void {
    totals.set(event.ledgerId, (totals.get(event.ledgerId) ?? 0) + event.amount);
  }
}

/** Every new ledger gets a welcome posting of 5. */
@Saga({ name: 'welcome' })
@Injectable()
class WelcomeSaga {
  @StartsSaga(LedgerOpened, { associate: 'ledgerId' })
  async opened(event: LedgerOpened, ctx: SagaContext<{ ledgerId: string }>): Promise<void> {
    ctx.state = { ledgerId: event.ledgerId };
    await ctx.dispatch(new Post(event.ledgerId, 5), { key: 'welcome' });
    ctx.complete();
  }
}

@Injectable()
@OutboxHandler({ name: 'log', events: '*' })
class LogPublisher extends LogOutboxPublisher {}

@Injectable()
@OutboxHandler({ name: 'recorder', events: '*' })
class RecordingPublisher implements OutboxPublisher {
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    for (const message of batch) published.push(message.eventType);
  }
}

@Controller('ledgers')
class LedgersController {
  constructor(private readonly commands: CommandBus) {}

  @HttpPost(':id/reversals')
  reverse(@Param('id') id: string, @Body() body: { amount: number }): Promise<unknown> {
    return this.commands.execute(new Reverse(id, body.amount));
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'better-sqlite3', database: ':memory:', autoLoadEntities: true }),
    CqrsModule.forRoot(),
    EventSourcingModule.forRoot({ aggregates: [Ledger], registerEntities: true, outbox: { pollIntervalMs: 50 }, subscriptions: { pollIntervalMs: 50 } }),
  ],
  controllers: [LedgersController],
  providers: [TotalsProjection, WelcomeSaga, LogPublisher, RecordingPublisher],
})
class AppModule {}

async function settle(app: { get<T>(type: new (...args: never[]) => T): T }, done: () => boolean): Promise<void> {
  for (let round = 0; round < 100 && !done(); round++) {
    await app.get(SubscriptionsService).flush();
    await app.get(OutboxRelayService).flush();
    if (!done()) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const app = await NestFactory.create(AppModule, { logger: false });
app.useGlobalFilters(new ChronicleExceptionFilter());
await app.listen(0, '127.0.0.1');
const base = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
try {
  const bus = app.get(CommandBus);
  await bus.execute(new OpenLedger('L1', 'ann'));
  await bus.execute(new Post('L1', 10));
  await settle(app, () => totals.get('L1') === 15 && published.length === 3);

  const ask = async (path: string, body: unknown) => {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const refused = await ask('/ledgers/L1/reversals', { amount: 1000 });
  const unknown = await ask('/ledgers/nobody/reversals', { amount: 1 });
  const attempts = process.env.CHRONICLE_BLOCKED_ATTEMPTS ? readFileSync(process.env.CHRONICLE_BLOCKED_ATTEMPTS, 'utf8').split('\n').filter(Boolean) : [];

  // pg is missing: a PostgreSQL feature says which package to install.
  const postgres = { options: { type: 'postgres' }, driver: {} } as unknown as DataSource;
  const listener = new PostgresNotificationListener(postgres, { channel: 'chronicle', onNotification: () => undefined });
  const pgError = await listener.start().then(
    () => undefined,
    (error: Error) => ({ name: error.name, message: error.message }),
  );

  // The subpath that needs a blocked package does fail: the block is real.
  const rabbit = await import('@chronicle/nestjs/rabbitmq').then(
    () => 'loaded',
    (error: Error & { code?: string }) => error.code,
  );
  console.log(JSON.stringify({ totals: Object.fromEntries(totals), published, refused, unknown, pgError, attempts, rabbit }));
} finally {
  await app.close();
}
