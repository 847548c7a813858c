// @chronicle/nestjs/terminus: health indicators. Needs `@nestjs/terminus`; kept apart from the
// main entry point so that applications without it never load it.
export * from './health/chronicle-health.module.js';
export * from './outbox/outbox.health-indicator.js';
export * from './subscriptions/subscriptions.health-indicator.js';
