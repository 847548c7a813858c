import type { ClassType } from '../aggregates/class-type.js';
import { OUTBOX_HANDLER_METADATA } from '../constants/metadata.constants.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { getEventMetadata } from '../events/event.decorator.js';
import { resolveOutboxHandlerSettings, type OutboxHandlerSettings } from './outbox-handler-options.js';
import type { OutboxPublisher } from './outbox-publisher.js';
import type { RelayedHandler } from './outbox-relay.js';

/** Options of `@OutboxHandler`: the handler settings, with events given as classes or type names. */
export interface OutboxHandlerDecoratorOptions extends Omit<OutboxHandlerSettings, 'events'> {
  /** The events this handler receives: event classes (or type names), or `'*'` for every event. */
  events: ReadonlyArray<ClassType | string> | '*';
}

/**
 * Marks a class as an outbox handler, framework-free: it implements `OutboxPublisher`, and every
 * committed event it subscribes to reaches its `publish` at least once, in order per aggregate.
 * Give an instance to `createChronicle({ outboxHandlers })`. The metadata key is the Nest
 * module's, so a class decorated with either decorator works with both.
 *
 * ```ts
 * @OutboxHandler({ name: 'audit-log', events: [AccountOpened] })
 * class AuditLog implements OutboxPublisher { async publish(batch: OutboxMessage[]) {} }
 * ```
 */
export function OutboxHandler(options: OutboxHandlerDecoratorOptions): ClassDecorator {
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
  return (target) => {
    Reflect.defineMetadata(OUTBOX_HANDLER_METADATA, { ...options, events, name: settings.name } satisfies OutboxHandlerSettings, target);
  };
}

/** The `@OutboxHandler` settings of a class (or of an instance's class), if it has the decorator. */
export function outboxHandlerSettingsOf(target: ClassType | object): OutboxHandlerSettings | undefined {
  const type = typeof target === 'function' ? target : target.constructor;
  return Reflect.getMetadata(OUTBOX_HANDLER_METADATA, type) as OutboxHandlerSettings | undefined;
}

/**
 * The relay's view of an outbox handler given as an instance of an `@OutboxHandler` class, or as
 * `{ settings, publisher }` already; a `ConfigurationError` names what is missing otherwise.
 */
export function toRelayedHandler(handler: object): RelayedHandler {
  const candidate = handler as Partial<RelayedHandler>;
  if (candidate.settings !== undefined && candidate.publisher !== undefined && outboxHandlerSettingsOf(handler) === undefined) {
    if (typeof candidate.publisher?.publish !== 'function') {
      throw new ConfigurationError(`Outbox handler "${String(candidate.settings.name)}" has a publisher without a publish(batch) method.`);
    }
    return { settings: candidate.settings, publisher: candidate.publisher };
  }
  const settings = outboxHandlerSettingsOf(handler);
  const className = handler?.constructor?.name ?? typeof handler;
  if (!settings) {
    throw new ConfigurationError(
      `${className} is given as an outbox handler but is not an instance of an @OutboxHandler class (nor { settings, publisher }).`,
    );
  }
  if (typeof (handler as Partial<OutboxPublisher>).publish !== 'function') {
    throw new ConfigurationError(`@OutboxHandler('${settings.name}') on ${className} has no publish(batch) method.`);
  }
  return { settings, publisher: handler as OutboxPublisher };
}
