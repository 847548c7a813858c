import { Logger } from '@nestjs/common';
import type { EventBus } from '@nestjs/cqrs';
import type { CommittedCommand, PostCommitListener } from '@chronicle/core';

/**
 * Publishes committed events on `@nestjs/cqrs`'s EventBus, after the commit, so existing
 * `@EventsHandler`s keep working. In-process and best effort: an event published here is never
 * one that did not commit, but a crash right after the commit loses the publication — use the
 * outbox or a projection for anything that must happen.
 */
export class EventBusBridge implements PostCommitListener {
  private readonly logger = new Logger(EventBusBridge.name);

  constructor(private readonly eventBus: EventBus) {}

  afterCommit({ result }: CommittedCommand): void {
    try {
      this.eventBus.publishAll(result.events);
    } catch (error) {
      this.logger.error(`Publishing ${result.streamId}@${result.version} on the EventBus failed: ${(error as Error).message}`);
    }
  }
}
