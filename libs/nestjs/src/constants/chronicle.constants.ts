/**
 * Injection token of the storage bundle (a `ChronicleStorage` from `createTypeOrmStorage` or
 * `createInMemoryStorage`); the journal and store tokens are derived from it.
 */
export const CHRONICLE_STORAGE = Symbol('CHRONICLE_STORAGE');
/** Injection token of the event journal (a `Journal` from `@chronicle/core`). */
export const CHRONICLE_JOURNAL = Symbol('CHRONICLE_JOURNAL');
/** Injection token of the snapshot store (a `SnapshotStore` from `@chronicle/core`). */
export const CHRONICLE_SNAPSHOT_STORE = Symbol('CHRONICLE_SNAPSHOT_STORE');
/** Injection token of the static module settings (`EventSourcingModuleExtras`). */
export const CHRONICLE_EXTRAS = Symbol('CHRONICLE_EXTRAS');
/** Name of the scheduled job that prunes old command outcomes. */
export const PRUNE_COMMAND_OUTCOMES_JOB = 'chronicle:prune-command-outcomes';
/** Injection token of the outbox store (an `OutboxStore` from `@chronicle/core`). */
export const CHRONICLE_OUTBOX_STORE = Symbol('CHRONICLE_OUTBOX_STORE');
/** Prefix of the relay's scheduled jobs (one interval per handler). */
export const OUTBOX_RELAY_JOB_PREFIX = 'chronicle:outbox-relay:';
/** Name of the scheduled job that deletes published outbox entries past retention. */
export const PRUNE_OUTBOX_JOB = 'chronicle:prune-outbox';
/** Injection token of the checkpoint store (a `CheckpointStore` from `@chronicle/core`). */
export const CHRONICLE_CHECKPOINT_STORE = Symbol('CHRONICLE_CHECKPOINT_STORE');
/** Injection token of the saga store (a `SagaStore` from `@chronicle/core`). */
export const CHRONICLE_SAGA_STORE = Symbol('CHRONICLE_SAGA_STORE');
/** Prefix of the subscriptions' polling jobs (one interval per projection or saga). */
export const SUBSCRIPTION_JOB_PREFIX = 'chronicle:subscription:';
/** Name of the job that fires due saga deadlines. */
export const SAGA_DEADLINES_JOB = 'chronicle:saga-deadlines';
/** Name of the job that deletes completed saga instances past retention. */
export const PRUNE_SAGAS_JOB = 'chronicle:prune-sagas';
