import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { OutboxHandler } from '@chronicle/nestjs';
import { RabbitMqOutboxPublisher } from '@chronicle/nestjs/rabbitmq';
import { OpenLedger, Post } from '../fixtures/ledger.aggregate.js';
import { OutboxTestApps, expectInOrderAndComplete, outboxStoreOf, recordExchange, waitUntil } from '../support/outbox-test-apps.js';
import { AMQP_URL, describeServices } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';

await describeServices(['postgres', 'rabbitmq'], 'the outbox relayed to the real RabbitMQ from PostgreSQL', () => {
  let apps: OutboxTestApps;
  let schema: string;
  const boot = (...args: Parameters<OutboxTestApps['boot']>) => apps.boot(...args);
  const store = outboxStoreOf;

  beforeEach(async () => {
    apps = new OutboxTestApps();
    schema = apps.schema;
    await apps.open();
  });
  afterEach(() => apps.close());

    it('three competing relays publish each aggregate in version order, every event at least once', async () => {
    const exchange = `chr_test_${schema}`;
    const consumer = await recordExchange(exchange);
    try {
      @Injectable()
      @OutboxHandler({ name: 'rabbitmq', events: '*', batchSize: 20 })
      class Rabbit extends RabbitMqOutboxPublisher {
        constructor() {
          super({ url: AMQP_URL, exchange });
        }
      }
      const relays = [await boot([Rabbit]), await boot([Rabbit]), await boot([Rabbit])];
      const ledgers = Array.from({ length: 12 }, (_, i) => `L${i}`);
      await Promise.all(ledgers.map((id, i) => relays[i % 3]!.get(CommandBus).execute(new OpenLedger(id, 'x'))));
      const posts: Array<Promise<unknown>> = [];
      for (let round = 0; round < 15; round++) {
        for (const [i, id] of ledgers.entries()) posts.push(relays[(i + round) % 3]!.get(CommandBus).execute(new Post(id, 1)));
      }
      await Promise.all(posts);
      const expected = new Map(ledgers.map((id) => [id, 16]));
      await waitUntil(() => new Set(consumer.messages.map((m) => m.id)).size >= 12 * 16, 20_000, 'all 192 events on RabbitMQ');
      expectInOrderAndComplete(consumer.messages, expected);
      await waitUntil(async () => (await store(relays[0]!).stats('rabbitmq'))[0]?.pending === 0, 10_000, 'an empty backlog');
    } finally {
      await consumer.close();
    }
  });

  it('while RabbitMQ is unreachable entries wait (none dead-lettered); once it is back, all are delivered', async () => {
    const exchange = `chr_test_${schema}`;
    const consumer = await recordExchange(exchange);
    const url = new URL(AMQP_URL);
    const proxy = new TcpProxy(url.hostname, Number(url.port || 5672));
    await proxy.start();
    try {
      const proxied = new URL(AMQP_URL);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      @Injectable()
      @OutboxHandler({ name: 'rabbitmq', events: '*', maxAttempts: 2, backoff: { initialMs: 50, maxMs: 200 } })
      class Rabbit extends RabbitMqOutboxPublisher {
        constructor() {
          super({ url: proxied.toString(), exchange, connectTimeoutMs: 500 });
        }
      }
      const app = await boot([Rabbit]);
      const bus = app.get(CommandBus);
      await bus.execute(new OpenLedger('L1', 'ann'));
      await waitUntil(() => consumer.messages.length === 1, 10_000, 'the first event');

      await proxy.stop();
      for (let i = 0; i < 5; i++) await bus.execute(new Post('L1', 1));
      // Far more relay rounds than maxAttempts pass during the outage.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await store(app).deadLetters('rabbitmq')).toEqual([]);
      expect((await store(app).stats('rabbitmq'))[0]).toMatchObject({ pending: 5, deadLettered: 0 });

      await proxy.start();
      await waitUntil(() => new Set(consumer.messages.map((m) => m.version)).size === 6, 15_000, 'all six events after the outage');
      expectInOrderAndComplete(consumer.messages, new Map([['L1', 6]]));
    } finally {
      await proxy.stop();
      await consumer.close();
    }
  }, 30_000);
});
