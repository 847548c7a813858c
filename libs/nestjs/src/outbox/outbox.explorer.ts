import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ConfigurationError, type OutboxPublisher, type RelayedHandler } from '@chronicle/core';
import { findDecoratedProviders } from '../discovery/decorated-providers.js';
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
    return findDecoratedProviders(this.discovery, '@OutboxHandler', 'Outbox handler', getOutboxHandlerMetadata, (settings) => settings.name).map(
      ({ instance, metadata, className }) => {
        if (typeof (instance as Partial<OutboxPublisher>).publish !== 'function') {
          throw new ConfigurationError(`@OutboxHandler('${metadata.name}') on ${className} has no publish(batch) method.`);
        }
        return { settings: metadata, publisher: instance as OutboxPublisher };
      },
    );
  }
}
