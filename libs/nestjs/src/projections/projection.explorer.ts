import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { getProjectionMetadata } from '@chronicle/core/internal';
import { findDecoratedProviders } from '../discovery/decorated-providers.js';

/** Finds the `@Projection` providers of the application (singletons with unique names). */
@Injectable()
export class ProjectionExplorer {
  constructor(private readonly discovery: DiscoveryService) {}

  explore(): object[] {
    return findDecoratedProviders(this.discovery, '@Projection', 'Projection', getProjectionMetadata, (options) => options.name).map(({ instance }) => instance);
  }
}
