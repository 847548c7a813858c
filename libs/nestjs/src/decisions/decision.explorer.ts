import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { getDecisionHandlerMetadata, type ClassType, type DecisionHandlerOptions } from '@chronicle/core';
import { findDecoratedProviders, type DecoratedProvider } from '../discovery/decorated-providers.js';

/**
 * Finds the `@DecisionHandler` providers of the application (singletons with unique names). Their
 * commands are routed from the CommandBus only when the class is also listed in
 * `EventSourcingModule.forRoot({ decisions })` (the CommandBus's handlers are declared with the
 * module, before any provider exists); `ChronicleDiscovery` refuses one that is not.
 */
@Injectable()
export class DecisionExplorer {
  constructor(private readonly discovery: DiscoveryService) {}

  explore(): DecoratedProvider<DecisionHandlerOptions>[] {
    return findDecoratedProviders(this.discovery, '@DecisionHandler', 'Decision handler', (type) => getDecisionHandlerMetadata(type as ClassType), (options) => options.name);
  }
}
