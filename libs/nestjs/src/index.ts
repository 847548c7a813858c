// @chronicle/nestjs: the module, its options, decorators, injectable services and the exception
// filter. Optional integrations live behind their own subpaths so that an application never loads
// a package it did not install: @chronicle/nestjs/rabbitmq (amqplib),
// @chronicle/nestjs/microservices (@nestjs/microservices), @chronicle/nestjs/terminus
// (@nestjs/terminus). Nothing here imports amqplib, @nestjs/microservices, @nestjs/terminus,
// NATS or pg, even transitively.
// Module
export * from './event-sourcing.module.js';
export { EVENT_SOURCING_MODULE_OPTIONS } from './event-sourcing.module-definition.js';
export * from './options/event-sourcing-module-options.interface.js';
export {
  CHRONICLE_STORAGE,
  CHRONICLE_JOURNAL,
  CHRONICLE_SNAPSHOT_STORE,
  CHRONICLE_OUTBOX_STORE,
  CHRONICLE_CHECKPOINT_STORE,
  CHRONICLE_SAGA_STORE,
  CHRONICLE_KEY_STORE,
} from './constants/chronicle.constants.js';
// Commands
export * from './commands/class-validator.interceptor.js';
// HTTP
export * from './http/chronicle-exception.filter.js';
// Outbox
export * from './outbox/outbox-handler.decorator.js';
export * from './outbox/outbox-relay.service.js';
export * from './outbox/outbox-admin.service.js';
export * from './outbox/outbox-monitor.service.js';
export * from './outbox/publishers/outbox-publish.error.js';
export * from './outbox/publishers/outbox-message-body.js';
export * from './outbox/publishers/log-outbox.publisher.js';
// Projections and sagas
export * from './subscriptions/subscriptions.service.js';
export * from './subscriptions/subscription-admin.service.js';
export * from './subscriptions/projection-rebuild.command.js';
