export * from './event-sourcing.module.js';
export { EVENT_SOURCING_MODULE_OPTIONS } from './event-sourcing.module-definition.js';
export * from './options/event-sourcing-module-options.interface.js';
export * from './constants/chronicle.constants.js';
export * from './commands/class-validator.interceptor.js';
export * from './commands/aggregate-command-handler.factory.js';
export * from './events/event-bus.bridge.js';
export * from './lifecycle/chronicle-lifecycle.service.js';
