/**
 * Injection token of the storage bundle (a `ChronicleStorage` from `createTypeOrmStorage` or
 * `createInMemoryStorage`) the module's `Chronicle` runtime is built on.
 */
export const CHRONICLE_STORAGE = Symbol('CHRONICLE_STORAGE');
/** Injection token of the event journal (a `Journal` from `@chronicle/core`). */
export const CHRONICLE_JOURNAL = Symbol('CHRONICLE_JOURNAL');
/** Injection token of the snapshot store (a `SnapshotStore` from `@chronicle/core`). */
export const CHRONICLE_SNAPSHOT_STORE = Symbol('CHRONICLE_SNAPSHOT_STORE');
/** Injection token of the static module settings (`EventSourcingModuleExtras`). */
export const CHRONICLE_EXTRAS = Symbol('CHRONICLE_EXTRAS');
/** Injection token of the outbox store (an `OutboxStore` from `@chronicle/core`). */
export const CHRONICLE_OUTBOX_STORE = Symbol('CHRONICLE_OUTBOX_STORE');
/** Injection token of the checkpoint store (a `CheckpointStore` from `@chronicle/core`). */
export const CHRONICLE_CHECKPOINT_STORE = Symbol('CHRONICLE_CHECKPOINT_STORE');
/** Injection token of the saga store (a `SagaStore` from `@chronicle/core`). */
export const CHRONICLE_SAGA_STORE = Symbol('CHRONICLE_SAGA_STORE');
/**
 * Injection token of the data-key store of crypto-shredding (a `KeyStore` from `@chronicle/core`),
 * `null` when the module was configured without `personalData`.
 */
export const CHRONICLE_KEY_STORE = Symbol('CHRONICLE_KEY_STORE');
