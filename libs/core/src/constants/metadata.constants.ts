import 'reflect-metadata';

/** Reflect-metadata keys of the kernel's decorators (one place, one typed reader each). */
export const EVENT_METADATA = 'chronicle:event';
export const AGGREGATE_METADATA = 'chronicle:aggregate';
export const COMMAND_HANDLERS_METADATA = 'chronicle:aggregate:handles';
export const EVENT_APPLIERS_METADATA = 'chronicle:aggregate:applies';
export const INVARIANTS_METADATA = 'chronicle:aggregate:invariants';
export const PROJECTION_METADATA = 'chronicle:projection';
export const PROJECTION_HANDLERS_METADATA = 'chronicle:projection:on';
export const PROJECTION_BATCH_HANDLER_METADATA = 'chronicle:projection:on-batch';
export const SAGA_METADATA = 'chronicle:saga';
export const SAGA_HANDLERS_METADATA = 'chronicle:saga:handlers';
export const SAGA_DEADLINE_HANDLERS_METADATA = 'chronicle:saga:deadlines';
/** `@OutboxHandler`; the same key as the Nest module's decorator, so either decorator is read by both. */
export const OUTBOX_HANDLER_METADATA = 'chronicle:outbox-handler';
/** `@PersonalData` fields of an event class. */
export const PERSONAL_DATA_METADATA = 'chronicle:personal-data';
/** `@DecisionHandler` options of a class. */
export const DECISION_HANDLER_METADATA = 'chronicle:decision';
/** `@Decides` declarations of a decision handler. */
export const DECIDES_METADATA = 'chronicle:decision:decides';
/** `@Evolves` declarations of a decision handler. */
export const EVOLVES_METADATA = 'chronicle:decision:evolves';
