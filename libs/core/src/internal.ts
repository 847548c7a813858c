// @chronicle/core/internal: what Chronicle's own packages (typeorm, nestjs, testing, console) and
// its benchmarks share, and applications have no use for: option resolution, the readers of the
// decorators' metadata, the runtime's job scheduler, the saga context's implementation. It follows
// the packages' own versions with no stability promise; import the public API from `@chronicle/core`.
/** Option resolution: each omitted setting takes its default, once. */
export { resolveChronicleOptions } from './runtime/chronicle-options.js';
export { resolveCommandGatewayOptions } from './gateway/command-gateway-options.js';
export { resolveSubscriptionOptions } from './subscriptions/subscription-options.js';
export { resolveOutboxHandlerSettings, backoffDelay } from './outbox/outbox-handler-options.js';
/** How a handler instance becomes the relay's `RelayedHandler`, and its `@OutboxHandler` settings. */
export { outboxHandlerSettingsOf, toRelayedHandler } from './outbox/outbox-handler.decorator.js';
/** The readers of the decorators' metadata (discovery, the aggregate definition, the serializer). */
export { getAggregateMetadata } from './aggregates/aggregate.decorator.js';
export { getCommandHandlersMetadata, type CommandHandlerMetadata } from './aggregates/handles.decorator.js';
export { getEventAppliersMetadata, type EventApplierMetadata } from './aggregates/applies.decorator.js';
export { getInvariantsMetadata } from './aggregates/invariant.decorator.js';
export { getEventMetadata } from './events/event.decorator.js';
export { getPersonalFields } from './events/personal-data.decorator.js';
export { getProjectionMetadata } from './projections/projection.decorator.js';
export { getProjectionHandlersMetadata, type ProjectionHandlerMetadata } from './projections/on.decorator.js';
export { getProjectionBatchHandlerMetadata, type ProjectionBatchHandlerMetadata } from './projections/on-batch.decorator.js';
export { getDecisionHandlerMetadata, decisionHandlerEventClasses } from './decisions/decision-handler.decorator.js';
export { getDecidesMetadata, type DecidesMetadata } from './decisions/decides.decorator.js';
export { getEvolversMetadata, type EvolverMetadata } from './decisions/evolves.decorator.js';
export { getSagaMetadata } from './sagas/saga.decorator.js';
export { getSagaHandlersMetadata, type SagaHandlerMetadata } from './sagas/saga-handler.decorator.js';
export { getSagaDeadlineHandlersMetadata, type SagaDeadlineHandlerMetadata } from './sagas/on-deadline.decorator.js';
/** The saga context's implementation and the classification of a dispatched command's failure. */
export { SagaContextImpl, sagaOutcomeOf } from './sagas/saga-context.js';
/** `BackgroundJobs`: every timer and wake-up of a runtime, single-flight per job, stopped on an AbortSignal. */
export * from './runtime/background-jobs.js';
/** The refusal of `@PersonalData` events that nothing would seal, by a host without a key store (the Nest module's early check). */
export { refusePlainPersonalData } from './personal-data/plain-personal-data-check.js';
/** The time-ordered ids (UUIDv7) of events and outbox entries. */
export { timeOrderedId } from './events/time-ordered-id.js';
/** The units of one group-commit batch as one unit, with their shared origin (see `AppendRequest.origin`). */
export { combineAppendRequests } from './ports/append-origin.js';
