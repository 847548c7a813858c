// @chronicle/nestjs/microservices: the outbox publisher over a `@nestjs/microservices` ClientProxy
// (NATS, Kafka, Redis, MQTT...). Kept apart from the main entry point so that applications without
// `@nestjs/microservices` never load it, nor its types.
export * from './outbox/publishers/client-proxy-outbox.publisher.js';
