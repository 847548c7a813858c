/** Injection token of the event journal (a `Journal` from `@chronicle/core`). */
export const CHRONICLE_JOURNAL = Symbol('CHRONICLE_JOURNAL');
/** Injection token of the snapshot store (a `SnapshotStore` from `@chronicle/core`). */
export const CHRONICLE_SNAPSHOT_STORE = Symbol('CHRONICLE_SNAPSHOT_STORE');
/** Injection token of the static module settings (`EventSourcingModuleExtras`). */
export const CHRONICLE_EXTRAS = Symbol('CHRONICLE_EXTRAS');
/** Name of the scheduled job that prunes old command outcomes. */
export const PRUNE_COMMAND_OUTCOMES_JOB = 'chronicle:prune-command-outcomes';
