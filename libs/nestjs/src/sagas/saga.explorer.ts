import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { getSagaMetadata } from '@chronicle/core/internal';
import { findDecoratedProviders } from '../discovery/decorated-providers.js';

/**
 * Finds the providers decorated with Chronicle's `@Saga` (singletons with unique names). Methods
 * decorated with `@nestjs/cqrs`'s `@Saga` are a different thing, found by the CqrsModule.
 */
@Injectable()
export class SagaExplorer {
  constructor(private readonly discovery: DiscoveryService) {}

  explore(): object[] {
    return findDecoratedProviders(this.discovery, '@Saga', 'Saga', getSagaMetadata, (options) => options.name).map(({ instance }) => instance);
  }
}
