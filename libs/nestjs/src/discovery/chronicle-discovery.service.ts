import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import {
  ConfigurationError,
  type ChronicleComponents,
  type CommandInterceptor,
  type CommandMetadata,
  type CommittedCommand,
  type PostCommitListener,
} from '@chronicle/core';
import { CHRONICLE_EXTRAS } from '../constants/chronicle.constants.js';
import type { EventSourcingModuleExtras } from '../options/event-sourcing-module-options.interface.js';
import { DecisionExplorer } from '../decisions/decision.explorer.js';
import { OutboxExplorer } from '../outbox/outbox.explorer.js';
import { ProjectionExplorer } from '../projections/projection.explorer.js';
import { SagaExplorer } from '../sagas/saga.explorer.js';

/**
 * What the Chronicle runtime needs from the application's own providers, found in `onModuleInit`
 * (once Nest has made every provider, wherever it is declared): the listed interceptors and
 * listeners, the listed `@DecisionHandler` providers, and the `@OutboxHandler`, `@Projection` and
 * `@Saga` providers.
 *
 * The runtime is built by a provider factory, before those providers exist, so it receives a fixed
 * list of forwarders (`interceptors`, `listeners`), each bound here to its provider, and asks for
 * the discovered components in `start()` (`components`). Nothing is added to the gateway later.
 */
@Injectable()
export class ChronicleDiscovery implements OnModuleInit {
  /** One forwarder per interceptor listed in the module's options, in order. */
  readonly interceptors: readonly CommandInterceptor[];
  /** One forwarder per listener listed in the module's options, in order. */
  readonly listeners: readonly PostCommitListener[];
  private boundInterceptors: CommandInterceptor[] = [];
  private boundListeners: PostCommitListener[] = [];
  private found: ChronicleComponents | undefined;

  constructor(
    private readonly moduleRef: ModuleRef,
    @Inject(CHRONICLE_EXTRAS) private readonly extras: EventSourcingModuleExtras,
    private readonly outboxExplorer: OutboxExplorer,
    private readonly projectionExplorer: ProjectionExplorer,
    private readonly sagaExplorer: SagaExplorer,
    private readonly decisionExplorer: DecisionExplorer,
  ) {
    this.interceptors = (extras.interceptors ?? []).map((type, index) => ({
      intercept: (command: object, metadata: Readonly<CommandMetadata>) => this.bound(this.boundInterceptors, index, type, 'interceptor').intercept(command, metadata),
    }));
    this.listeners = (extras.listeners ?? []).map((type, index) => ({
      afterCommit: (commit: CommittedCommand) => this.bound(this.boundListeners, index, type, 'listener').afterCommit(commit),
    }));
  }

  onModuleInit(): void {
    try {
      this.moduleRef.get(CommandBus, { strict: false });
    } catch {
      throw new ConfigurationError(
        'EventSourcingModule routes commands through @nestjs/cqrs: import CqrsModule.forRoot() in the application module.',
      );
    }
    this.boundInterceptors = (this.extras.interceptors ?? []).map((type) => this.resolve(type, 'interceptor'));
    this.boundListeners = (this.extras.listeners ?? []).map((type) => this.resolve(type, 'listener'));
    const listed = new Set<unknown>(this.extras.decisions ?? []);
    for (const { instance, className } of this.decisionExplorer.explore()) {
      if (!listed.has(instance.constructor)) {
        throw new ConfigurationError(
          `The @DecisionHandler provider ${className} is not listed in EventSourcingModule.forRoot({ decisions }): list it, so that its commands are routed to it.`,
        );
      }
    }
    this.found = {
      decisions: (this.extras.decisions ?? []).map((type) => this.resolve(type, 'decision handler', 'decision handler')),
      outboxHandlers: this.outboxExplorer.explore(),
      projections: this.projectionExplorer.explore(),
      sagas: this.sagaExplorer.explore(),
    };
  }

  /** The discovered components (the runtime asks in `start()`, after `onModuleInit`). */
  components(): ChronicleComponents {
    if (!this.found) {
      throw new ConfigurationError('Chronicle was started before the Nest application initialized its modules: start it with app.init() or app.listen().');
    }
    return this.found;
  }

  private bound<T>(list: readonly T[], index: number, type: { name: string }, role: string): T {
    const target = list[index];
    if (target === undefined) {
      throw new ConfigurationError(`The command ${role} ${type.name} is used before the Nest application initialized its modules: call app.init() first.`);
    }
    return target;
  }

  private resolve<T>(type: new (...args: never[]) => T, role: string, noun = `command ${role}`): T {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch {
      throw new ConfigurationError(
        `The ${noun} ${type.name} is listed in EventSourcingModule but is not a provider: add it to a module's providers.`,
      );
    }
  }
}
