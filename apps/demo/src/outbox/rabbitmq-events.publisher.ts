import { Inject, Injectable } from '@nestjs/common';
import { OutboxHandler } from '@chronicle/nestjs';
import { RabbitMqOutboxPublisher } from '@chronicle/nestjs/rabbitmq';
import type { DemoConfig } from '../config/demo-config.js';
import { DEMO_CONFIG } from './demo-config.token.js';

/** The demo's exchange: every account event, routing key = event type. */
export const DEMO_EXCHANGE = 'chronicle.demo';

/** Publishes every account event to RabbitMQ through the transactional outbox. */
@Injectable()
@OutboxHandler({ name: 'rabbitmq', events: '*', maxAttempts: 10, batchSize: 200 })
export class RabbitMqEventsPublisher extends RabbitMqOutboxPublisher {
  constructor(@Inject(DEMO_CONFIG) config: DemoConfig) {
    super({ url: config.amqpUrl!, exchange: DEMO_EXCHANGE, exchangeType: 'topic' });
  }
}
