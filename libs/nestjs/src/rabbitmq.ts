// @chronicle/nestjs/rabbitmq: the RabbitMQ outbox publisher. Needs `amqplib`; kept apart from the
// main entry point so that applications without RabbitMQ never load it.
export * from './outbox/publishers/rabbitmq-outbox.publisher.js';
