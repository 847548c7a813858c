import type { OutboxMessage } from './outbox-message.js';

/** Per-message failures of a batch; messages not listed were published. */
export interface PublishReport {
  failed: Array<{ id: string; error: unknown }>;
}

/**
 * Sends outbox messages somewhere (a broker, a log, an HTTP endpoint). The relay hands it a batch
 * sorted by aggregate, then version. Resolving means every message was published, unless a
 * `PublishReport` lists failures; throwing means none was. When a message of an aggregate fails,
 * the relay treats the later messages of that aggregate in the batch as not attempted — a
 * publisher should stop publishing an aggregate at its first failure.
 */
export interface OutboxPublisher {
  publish(batch: readonly OutboxMessage[]): Promise<void | PublishReport>;
}
