import 'reflect-metadata';

/** Reflect-metadata keys of the kernel's decorators (one place, one typed reader each). */
export const EVENT_METADATA = 'chronicle:event';
export const AGGREGATE_METADATA = 'chronicle:aggregate';
export const COMMAND_HANDLERS_METADATA = 'chronicle:aggregate:handles';
export const EVENT_APPLIERS_METADATA = 'chronicle:aggregate:applies';
export const INVARIANTS_METADATA = 'chronicle:aggregate:invariants';
