import { Logger } from '@nestjs/common';
import type { OutboxMessage, OutboxPublisher } from '@chronicle/core';

/** Options of {@link LogOutboxPublisher}. */
export interface LogOutboxPublisherOptions {
  /**
   * Also log each payload. Off by default: payloads may hold personal data that has no place in logs.
   * @default false
   */
  includePayload?: boolean;
}

/**
 * Logs one line per outbox message through Nest's Logger and reports every message published:
 * the embedded default, for local work and demos without a broker. It never fails, so it never
 * holds back an aggregate.
 */
export class LogOutboxPublisher implements OutboxPublisher {
  private readonly logger = new Logger(LogOutboxPublisher.name);
  private readonly includePayload: boolean;

  constructor(options: LogOutboxPublisherOptions = {}) {
    this.includePayload = options.includePayload ?? false;
  }

  /** Logs the batch; always resolves. */
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    for (const message of batch) {
      try {
        this.logger.log(this.line(message));
      } catch {
        // A logger that throws must not hold back the outbox: a log line is not worth a retry.
      }
    }
  }

  private line(message: OutboxMessage): string {
    const correlation = typeof message.metadata.correlationId === 'string' ? `, correlation ${message.metadata.correlationId}` : '';
    const payload = this.includePayload ? ` ${JSON.stringify(message.payload)}` : '';
    return `${message.eventType} v${message.version} of ${message.aggregateType}/${message.aggregateId} (entry ${message.id}, event ${message.eventId}${correlation})${payload}`;
  }
}
