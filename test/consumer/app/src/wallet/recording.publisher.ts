import { Injectable } from '@nestjs/common';
import type { OutboxMessage, OutboxPublisher } from '@chronicle/core';
import { OutboxHandler } from '@chronicle/nestjs';

/** A custom outbox handler: keeps what it was given (the application's own publisher). */
@Injectable()
@OutboxHandler({ name: 'recorder', events: '*' })
export class RecordingPublisher implements OutboxPublisher {
  readonly published: OutboxMessage[] = [];

  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    this.published.push(...batch);
  }
}
