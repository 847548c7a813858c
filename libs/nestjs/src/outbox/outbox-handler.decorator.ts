import { SetMetadata } from '@nestjs/common';
import {
  ConfigurationError,
  getEventMetadata,
  resolveOutboxHandlerSettings,
  type ClassType,
  type OutboxHandlerSettings,
} from '@chronicle/core';
import { OUTBOX_HANDLER_METADATA } from '../constants/chronicle.constants.js';

/** Options of `@OutboxHandler`: the handler settings, with events given as classes or type names. */
export interface OutboxHandlerOptions extends Omit<OutboxHandlerSettings, 'events'> {
  /** The events this handler receives: event classes (or type names), or `'*'` for every event. */
  events: ReadonlyArray<ClassType | string> | '*';
}

/**
 * Marks a provider as an outbox handler: it implements `OutboxPublisher`, and every committed
 * event it subscribes to reaches its `publish` at least once, in order per aggregate, through the
 * transactional outbox. The provider must be a singleton (request-scoped handlers are refused).
 *
 * ```ts
 * @OutboxHandler({ name: 'rabbitmq', events: '*', maxAttempts: 10 })
 * export class RabbitPublisher implements OutboxPublisher { async publish(batch: OutboxMessage[]) {} }
 * ```
 */
export function OutboxHandler(options: OutboxHandlerOptions): ClassDecorator {
  const events =
    options?.events === '*'
      ? '*'
      : (options?.events ?? []).map((event) => {
          if (typeof event === 'string') return event;
          const metadata = typeof event === 'function' ? getEventMetadata(event) : undefined;
          if (!metadata) {
            throw new ConfigurationError(
              `@OutboxHandler('${options.name}') lists ${String((event as { name?: string })?.name ?? event)}, which is not an @Event class.`,
            );
          }
          return metadata.type;
        });
  // Validates now, so a bad option fails where the decorator is written.
  const settings = resolveOutboxHandlerSettings({ ...options, events });
  return SetMetadata(OUTBOX_HANDLER_METADATA, { ...options, events, name: settings.name } satisfies OutboxHandlerSettings);
}

/** The `@OutboxHandler` settings of a class, if it has the decorator. */
export function getOutboxHandlerMetadata(target: object): OutboxHandlerSettings | undefined {
  return Reflect.getMetadata(OUTBOX_HANDLER_METADATA, target) as OutboxHandlerSettings | undefined;
}
