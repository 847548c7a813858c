import { Injectable } from '@nestjs/common';
import { OutboxHandler } from '@chronicle/nestjs';
import { RabbitMqOutboxPublisher } from '@chronicle/nestjs/rabbitmq';

/** The exchange the PostgreSQL run publishes to; the run binds a queue of its own to it. */
export const CONSUMER_EXCHANGE = process.env.CONSUMER_EXCHANGE ?? 'chronicle.consumer-test';

@Injectable()
@OutboxHandler({ name: 'rabbitmq', events: '*' })
export class RabbitMqWalletPublisher extends RabbitMqOutboxPublisher {
  constructor() {
    super({ url: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672', exchange: CONSUMER_EXCHANGE, exchangeType: 'topic' });
  }
}
