import { deepStrictEqual } from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import pg from 'pg';
import { eventually, runScenario } from './scenario.js';
import { CONSUMER_EXCHANGE, RabbitMqWalletPublisher } from './wallet/rabbitmq-wallet.publisher.js';

const url = process.env.CHRONICLE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `consumer_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`create schema ${schema}`);

// A queue of this run's own, bound to the exchange the RabbitMQ publisher sends to.
const connection = await amqplib.connect(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const channel = await connection.createChannel();
await channel.assertExchange(CONSUMER_EXCHANGE, 'topic', { durable: true });
const { queue } = await channel.assertQueue('', { exclusive: true });
await channel.bindQueue(queue, CONSUMER_EXCHANGE, '#');
const received: Array<{ routingKey: string; body: string }> = [];
await channel.consume(queue, (message) => {
  if (message) received.push({ routingKey: message.fields.routingKey, body: message.content.toString() });
}, { noAck: true });

try {
  await runScenario(
    {
      name: 'postgres+rabbitmq',
      typeorm: { type: 'postgres', url, schema, autoLoadEntities: true },
      schema,
      publishers: [RabbitMqWalletPublisher],
    },
    async (_app, walletId) => {
      // The RabbitMQ publisher delivered the wallet's events (opened, deposit, bonus, withdrawal).
      const mine = () => received.filter((m) => m.body.includes(walletId));
      await eventually('RabbitMQ to deliver the 4 events of the wallet', () => mine().length === 4);
      deepStrictEqual(mine().map((m) => m.routingKey), ['wallet.opened', 'wallet.deposited', 'wallet.deposited', 'wallet.withdrawn']);
    },
  );
} finally {
  await connection.close().catch(() => undefined);
  await admin.query(`drop schema ${schema} cascade`).catch(() => undefined);
  await admin.end();
}
