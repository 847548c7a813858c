import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ConfigurationError, type OutboxPublisher, type RelayedHandler } from '@chronicle/core';
import { getOutboxHandlerMetadata } from './outbox-handler.decorator.js';

/**
 * Finds the `@OutboxHandler` providers of the application through Nest's DiscoveryService, and
 * refuses the ones that cannot work: request-scoped, without a `publish` method, or with a name
 * another handler already has.
 */
@Injectable()
export class OutboxExplorer {
  constructor(private readonly discovery: DiscoveryService) {}

  explore(): RelayedHandler[] {
    const found: RelayedHandler[] = [];
    const owners = new Map<string, string>();
    for (const wrapper of this.discovery.getProviders()) {
      const type = wrapper.metatype;
      if (!type || typeof type !== 'function') continue;
      const settings = getOutboxHandlerMetadata(type);
      if (!settings) continue;
      const className = type.name;
      if (!wrapper.isDependencyTreeStatic()) {
        throw new ConfigurationError(
          `@OutboxHandler('${settings.name}') on ${className} is request-scoped (or depends on a request-scoped provider); ` +
            'the relay runs outside requests, so outbox handlers must be singletons.',
        );
      }
      const other = owners.get(settings.name);
      if (other) {
        throw new ConfigurationError(`Outbox handler name "${settings.name}" is used twice: by ${other} and by ${className}.`);
      }
      const instance = wrapper.instance as Partial<OutboxPublisher> | undefined;
      if (!instance || typeof instance.publish !== 'function') {
        throw new ConfigurationError(`@OutboxHandler('${settings.name}') on ${className} has no publish(batch) method.`);
      }
      owners.set(settings.name, className);
      found.push({ settings, publisher: instance as OutboxPublisher });
    }
    return found;
  }
}
