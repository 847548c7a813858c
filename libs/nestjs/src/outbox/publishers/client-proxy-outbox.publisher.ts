import { Logger } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { lastValueFrom, throwError, timeout } from 'rxjs';
import { ConfigurationError, outboxTraceHeaders, type OutboxMessage, type OutboxPublisher, type PublishReport } from '@chronicle/core';
import { toOutboxMessageBody, type OutboxMessageBody } from './outbox-message-body.js';
import { OutboxPublishError } from './outbox-publish.error.js';

/** What {@link ClientProxyOutboxPublisher} emits: the message body plus the outbox entry id. */
export interface OutboxEventData extends OutboxMessageBody {
  /** The outbox entry id: the same on every redelivery, so consumers dedupe on it. */
  messageId: string;
  /** W3C trace context of the message (the relay's publish span, else the one stored with the event). */
  traceparent?: string;
  tracestate?: string;
}

/** Options of {@link ClientProxyOutboxPublisher}. */
export interface ClientProxyOutboxPublisherOptions {
  /**
   * The event pattern a message is emitted with (the subject on NATS, the topic on Kafka, the
   * channel on Redis).
   * @default the event type (`message.eventType`)
   */
  pattern?: (message: OutboxMessage) => string;
  /**
   * What `emit` sends, built from the event data: a transport's record type goes here. On Kafka,
   * key the record by stream so that an aggregate's messages share a partition and keep their
   * order: `envelope: (data, m) => ({ key: m.streamId, value: data, headers: { 'x-event-id': m.eventId } })`.
   * On NATS, a `NatsRecordBuilder` adds headers. Transports with headers carry the trace context
   * there: `headers: { ...outboxTraceHeaders(m) }` (also in the data as `traceparent` / `tracestate`).
   * @default the event data itself
   */
  envelope?: (data: OutboxEventData, message: OutboxMessage) => unknown;
  /**
   * Longest wait for one `emit` to complete; a message that takes longer is reported failed.
   * @default 10000
   */
  emitTimeoutMs?: number;
}

const DEFAULT_EMIT_TIMEOUT_MS = 10_000;

/**
 * Publishes outbox messages through any `@nestjs/microservices` `ClientProxy` (NATS, Kafka,
 * Redis, MQTT...): one `emit(pattern, data)` per message, in batch order, each awaited before the
 * next. An aggregate stops at its first failure; its later messages are reported failed without
 * being emitted, while other aggregates go on.
 *
 * What "published" means is the transport's: Kafka acknowledges the write (key records by stream
 * through `envelope` to keep per-aggregate order across partitions); Redis acknowledges the
 * PUBLISH but drops messages nobody is subscribed to; core NATS only hands the message to the
 * client's buffer, so a connection lost right after `emit` can lose it. Use a transport with
 * acknowledgements (or RabbitMqOutboxPublisher) where that matters.
 *
 * The client proxy belongs to the application (ClientsModule or its own provider) and is neither
 * connected nor closed here beyond what `emit` does.
 */
export class ClientProxyOutboxPublisher implements OutboxPublisher {
  private readonly logger = new Logger(ClientProxyOutboxPublisher.name);
  private readonly pattern: (message: OutboxMessage) => string;
  private readonly envelope: (data: OutboxEventData, message: OutboxMessage) => unknown;
  private readonly emitTimeoutMs: number;

  constructor(
    private readonly client: ClientProxy,
    options: ClientProxyOutboxPublisherOptions = {},
  ) {
    if (!client || typeof client.emit !== 'function') {
      throw new ConfigurationError('ClientProxyOutboxPublisher needs a ClientProxy (from ClientProxyFactory.create or ClientsModule).');
    }
    this.pattern = options.pattern ?? ((message) => message.eventType);
    this.envelope = options.envelope ?? ((data) => data);
    const emitTimeoutMs = options.emitTimeoutMs ?? DEFAULT_EMIT_TIMEOUT_MS;
    if (!Number.isFinite(emitTimeoutMs) || emitTimeoutMs <= 0) {
      throw new ConfigurationError(`ClientProxyOutboxPublisher: emitTimeoutMs must be a positive number of milliseconds, got ${String(options.emitTimeoutMs)}.`);
    }
    this.emitTimeoutMs = emitTimeoutMs;
  }

  /** Emits each message in order; resolves with the messages that were not emitted. */
  async publish(batch: readonly OutboxMessage[]): Promise<void | PublishReport> {
    const failed: PublishReport['failed'] = [];
    const stopped = new Map<string, string>();
    for (const message of batch) {
      const firstFailure = stopped.get(message.streamId);
      if (firstFailure !== undefined) {
        failed.push({
          id: message.id,
          error: new OutboxPublishError(`Outbox entry ${message.id} (${label(message)}) was not emitted: entry ${firstFailure} of the same aggregate failed first.`, {
            entryId: message.id,
          }),
        });
        continue;
      }
      try {
        await this.emit(message);
      } catch (error) {
        stopped.set(message.streamId, message.id);
        const reason = error instanceof OutboxPublishError ? error : new OutboxPublishError(`Emitting outbox entry ${message.id} (${label(message)}) failed: ${messageOf(error)}.`, { cause: error, entryId: message.id });
        this.logger.warn(reason.message);
        failed.push({ id: message.id, error: reason });
      }
    }
    return failed.length > 0 ? { failed } : undefined;
  }

  private async emit(message: OutboxMessage): Promise<void> {
    const data = this.envelope({ ...toOutboxMessageBody(message), messageId: message.id, ...outboxTraceHeaders(message) }, message);
    const emitted = this.client.emit<unknown, unknown>(this.pattern(message), data).pipe(
      timeout({
        first: this.emitTimeoutMs,
        with: () =>
          throwError(
            () => new OutboxPublishError(`Emitting outbox entry ${message.id} (${label(message)}) did not complete within ${this.emitTimeoutMs} ms.`, { entryId: message.id }),
          ),
      }),
    );
    // Transports differ in whether emit yields a value before completing; completion is what counts.
    await lastValueFrom(emitted, { defaultValue: undefined });
  }
}

function label(message: OutboxMessage): string {
  return `${message.eventType} v${message.version} of ${message.aggregateType}/${message.aggregateId}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
