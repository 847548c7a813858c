// @chronicle/core: the public API. What Chronicle's own packages share among themselves (option
// resolution, decorator metadata readers, the runtime's job scheduler, ...) is on the
// `@chronicle/core/internal` subpath (src/internal.ts), with no stability promise; the rest of the
// internals (the commit batcher, keyed queues, semaphores, the aggregate loader, command
// fingerprints) are not exported at all, and specs import them by relative path.
// Errors
export * from './errors/chronicle.error.js';
export * from './errors/concurrency.error.js';
export * from './errors/aggregate-not-found.error.js';
export * from './errors/aggregate-already-exists.error.js';
export * from './errors/domain-rule-violation.error.js';
export * from './errors/unknown-event-type.error.js';
export * from './errors/event-decoding.error.js';
export * from './errors/configuration.error.js';
export * from './errors/gateway-overloaded.error.js';
export * from './errors/duplicate-command.error.js';
export * from './errors/idempotency-key-reused.error.js';
export * from './errors/unknown-command.error.js';
export * from './errors/invalid-command.error.js';
export * from './errors/publisher-unavailable.error.js';
export * from './errors/checkpoint-lease-lost.error.js';
export * from './errors/projection-wait-timeout.error.js';
export * from './errors/saga-concurrency.error.js';
export * from './errors/invalid-argument.error.js';
export * from './errors/startup-timeout.error.js';
export * from './errors/append-condition-conflict.error.js';
// Events
export * from './events/json.js';
export * from './events/event-metadata.js';
export * from './events/recorded-event.js';
export * from './events/upcaster.js';
export { Event, type EventOptions, type EventClassMetadata } from './events/event.decorator.js';
export * from './events/event-registry.js';
export * from './events/event-serializer.js';
// Aggregates
export * from './aggregates/class-type.js';
export * from './aggregates/aggregate-id-source.js';
export { Aggregate, type AggregateOptions, type SnapshotOptions } from './aggregates/aggregate.decorator.js';
export { Handles, type HandlesOptions } from './aggregates/handles.decorator.js';
export { Applies } from './aggregates/applies.decorator.js';
export { Invariant } from './aggregates/invariant.decorator.js';
export * from './aggregates/aggregate-definition.js';
export * from './aggregates/aggregate-catalog.js';
// Decisions (dynamic consistency boundaries)
export { DecisionHandler, type DecisionHandlerOptions } from './decisions/decision-handler.decorator.js';
export { Decides, type DecidesOptions } from './decisions/decides.decorator.js';
export { Evolves } from './decisions/evolves.decorator.js';
export * from './decisions/decision-definition.js';
// Commands
export * from './commands/command-metadata.js';
export * from './commands/command-result.js';
// Gateway
export * from './gateway/command-gateway.js';
export { COMMAND_GATEWAY_DEFAULTS, COMMAND_OUTCOME_DEFAULTS, type CommandGatewayOptions, type ResolvedCommandGatewayOptions } from './gateway/command-gateway-options.js';
export { GROUP_COMMIT_DEFAULTS, type GroupCommitOptions } from './gateway/commit-batcher.js';
export * from './gateway/command-interceptor.js';
export * from './gateway/post-commit-listener.js';
// Logging
export * from './logging/chronicle-logger.js';
// Start-up
export * from './startup/startup-step-retry.js';
// Ports
export * from './ports/journal.port.js';
export * from './ports/snapshot-store.port.js';
export * from './ports/clock.port.js';
export * from './ports/outbox-store.port.js';
export * from './ports/checkpoint-store.port.js';
export * from './ports/saga-store.port.js';
export * from './ports/integer-argument.js';
export * from './ports/event-query.js';
export { checkAppendOrigin } from './ports/append-origin.js';
export * from './ports/lease-owner.js';
export * from './sagas/saga-change-checks.js';
export * from './subscriptions/parked-event-checks.js';
// Outbox
export * from './outbox/outbox-message.js';
export * from './outbox/outbox-publisher.js';
export * from './outbox/outbox-routing.js';
export type { OutboxBackoffOptions, OutboxHandlerSettings, ResolvedOutboxHandlerSettings } from './outbox/outbox-handler-options.js';
export * from './outbox/outbox-relay.js';
/** Argument checks every `OutboxStore` implementation applies, so that all refuse the same bad requests with the same errors. */
export * as outboxRequestChecks from './outbox/outbox-request-checks.js';
// Subscriptions
export * from './subscriptions/subscription-handler.js';
export { SUBSCRIPTION_DEFAULTS, type SubscriptionOptions, type ResolvedSubscriptionOptions } from './subscriptions/subscription-options.js';
export * from './subscriptions/subscription-runner.js';
// Projections
export { Projection, type ProjectionOptions } from './projections/projection.decorator.js';
export { On } from './projections/on.decorator.js';
export { OnBatch } from './projections/on-batch.decorator.js';
export * from './projections/projection-context.js';
export * from './projections/projection-handler.js';
// Sagas
export { Saga, type SagaOptions } from './sagas/saga.decorator.js';
export { StartsSaga, SagaHandler, type SagaAssociation } from './sagas/saga-handler.decorator.js';
export { OnDeadline } from './sagas/on-deadline.decorator.js';
export type { SagaCommandOutcome, SagaCommandDispatcher, SagaTrigger, SagaDispatchOptions, SagaContext } from './sagas/saga-context.js';
export * from './sagas/saga-engine.js';
export * from './sagas/saga-deadline-runner.js';
// Adapters (in-memory)
export * from './adapters/in-memory-transaction.js';
export * from './adapters/in-memory-journal.js';
export * from './adapters/in-memory-snapshot-store.js';
export * from './adapters/in-memory-outbox-store.js';
export * from './adapters/in-memory-checkpoint-store.js';
export * from './adapters/in-memory-saga-store.js';
// Runtime (framework-free composition root)
/** `ChronicleStorage` (every store, wired) and `NotificationSource` (commit wake-ups): the shape every storage bundle has. */
export * from './ports/chronicle-storage.port.js';
/** W3C trace context helpers (`validTraceContext`, `outboxTraceHeaders`) and the OpenTelemetry facade. */
export * from './telemetry/trace-context.js';
export * from './telemetry/chronicle-telemetry.js';
/** `createInMemoryStorage()`: every store in memory, wired as one `ChronicleStorage`. */
export * from './adapters/in-memory-storage.js';
/** `@OutboxHandler` without Nest. */
export { OutboxHandler, type OutboxHandlerDecoratorOptions } from './outbox/outbox-handler.decorator.js';
/** `ChronicleOptions` and their resolved form (`Chronicle.options`). */
export type { ChronicleOptions, ChronicleOutboxOptions, ChronicleSubscriptionOptions, ResolvedChronicleOptions } from './runtime/chronicle-options.js';
/** `Chronicle`: the gateway, relay, runners and their jobs, with `start()` / `stop()`. */
export * from './runtime/chronicle.js';
/** `createChronicle(config)`: builds a framework-free Chronicle runtime. */
export * from './runtime/create-chronicle.js';
export * from './errors/personal-data-declaration.error.js';
export * from './errors/personal-data-decryption.error.js';
export * from './errors/personal-data-subject.error.js';
export * from './errors/personal-data-leak.error.js';
export * from './errors/master-key-missing.error.js';
export * from './errors/master-key-mismatch.error.js';
export { PersonalData, type PersonalDataOptions, type PersonalField } from './events/personal-data.decorator.js';
export * from './ports/key-store.port.js';
export * from './personal-data/master-key-ring.js';
export * from './personal-data/subject-argument.js';
export * from './personal-data/personal-data-cipher.js';
export * from './personal-data/personal-data-storage.js';
export * from './adapters/in-memory-key-store.js';
