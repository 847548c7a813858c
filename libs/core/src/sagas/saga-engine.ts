import { ConfigurationError } from '../errors/configuration.error.js';
import type { ClassType } from '../aggregates/class-type.js';
import type { JsonValue } from '../events/json.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { consoleLogger, type ChronicleLogger } from '../logging/chronicle-logger.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import type { SagaChange, SagaDeadline, SagaInstance, SagaStore } from '../ports/saga-store.port.js';
import type { SubscriptionHandler, TransactionalWork } from '../subscriptions/subscription-handler.js';
import { getSagaDeadlineHandlersMetadata } from './on-deadline.decorator.js';
import { SagaContextImpl, type SagaCommandDispatcher, type SagaTrigger } from './saga-context.js';
import { getSagaHandlersMetadata, type SagaAssociation, type SagaHandlerMetadata } from './saga-handler.decorator.js';
import { getSagaMetadata, type SagaOptions } from './saga.decorator.js';

/** The checkpoint name of a saga's event subscription. */
export function sagaSubscriptionName(name: string): string {
  return `saga:${name}`;
}

type Method = (first: unknown, ctx: SagaContextImpl<unknown>) => unknown;

function associationOf(associate: SagaAssociation, event: object): string | undefined {
  const value = typeof associate === 'function' ? associate(event) : (event as Record<string, unknown>)[associate];
  return typeof value === 'string' && value.length > 0 ? value : typeof value === 'number' ? String(value) : undefined;
}

/**
 * How a saga's subscription runs by default (the runtime applies them): instances handled at once
 * (their commands share group commits), handled events per checkpoint transaction at most (a
 * transaction holds at most one event per instance, and the next event of one starts only once
 * this one's change committed), how long completed instances stay as tombstones (a redelivered
 * start is ignored meanwhile), and how often the older ones are pruned.
 */
export const SAGA_DEFAULTS = {
  concurrency: 16,
  commitEvery: 64,
  /** 7 days. */
  retentionMs: 604_800_000,
  /** 1 hour. */
  pruneIntervalMs: 3_600_000,
} as const;

/**
 * Runs one `@Saga` class: routes events to its instances (start, correlate, ignore), runs the
 * handlers with a `SagaContext`, and turns their decisions into a `SagaChange` saved with
 * optimistic concurrency. As a subscription handler, the handler runs (and dispatches its
 * commands, each with a deterministic id) outside the transaction, and the change is saved inside
 * the checkpoint's: each event changes an instance at most once, and a redelivered event resends
 * the same command ids, which the gateway answers from their recorded outcomes.
 */
export class SagaEngine<Tx = unknown> implements SubscriptionHandler<Tx> {
  readonly options: SagaOptions;
  readonly types: ReadonlySet<string>;
  private readonly starts = new Map<string, SagaHandlerMetadata>();
  private readonly handlers = new Map<string, SagaHandlerMetadata>();
  private readonly deadlineHandlers = new Map<string, string>();
  private readonly clock: Clock;
  private readonly logger: ChronicleLogger;
  /** The change behind each work `handle` returned, so `runWorks` can save them together. */
  private readonly changes = new WeakMap<TransactionalWork<Tx>, SagaChange>();

  constructor(
    readonly instance: object,
    private readonly deps: { store: SagaStore<Tx>; dispatcher: SagaCommandDispatcher; clock?: Clock; logger?: ChronicleLogger },
  ) {
    const type = instance.constructor as ClassType;
    const options = getSagaMetadata(type);
    if (!options) throw new ConfigurationError(`${type.name} is not a @Saga class.`);
    this.options = options;
    for (const handler of getSagaHandlersMetadata(type)) {
      this.requireMethod(type, handler.method);
      (handler.starts ? this.starts : this.handlers).set(handler.type, handler);
    }
    if (this.starts.size === 0) throw new ConfigurationError(`@Saga('${options.name}') on ${type.name} has no @StartsSaga handler.`);
    for (const deadline of getSagaDeadlineHandlersMetadata(type)) {
      this.requireMethod(type, deadline.method);
      this.deadlineHandlers.set(deadline.name, deadline.method);
    }
    this.types = new Set([...this.starts.keys(), ...this.handlers.keys()]);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger(`Saga ${options.name}`);
  }

  get name(): string {
    return this.options.name;
  }

  get stateVersion(): number {
    return this.options.stateVersion ?? 1;
  }

  /** Handles a feed event: returns the instance's change, saved in the checkpoint's transaction. */
  async handle(event: object, envelope: RecordedEvent): Promise<TransactionalWork<Tx> | void> {
    const change = await this.decide(event, envelope);
    if (!change) return;
    const work = (tx: Tx): Promise<void> => this.deps.store.save(change, tx);
    this.changes.set(work, change);
    return work;
  }

  /**
   * Saves the changes of one checkpoint transaction together (`SagaStore.saveAll`: one statement
   * for the new instances on the TypeORM store) when the store can; else one after another.
   */
  async runWorks(works: ReadonlyArray<TransactionalWork<Tx>>, tx: Tx): Promise<void> {
    const changes = works.map((work) => this.changes.get(work));
    const { store } = this.deps;
    if (store.saveAll && changes.every((change) => change !== undefined)) return store.saveAll(changes as SagaChange[], tx);
    for (const work of works) await work(tx);
  }

  /** The instance an event concerns: events of different instances may be handled concurrently. */
  partitionKey(event: object, envelope: RecordedEvent): string | undefined {
    for (const candidate of [this.handlers.get(envelope.type), this.starts.get(envelope.type)]) {
      const correlationId = candidate && associationOf(candidate.associate, event);
      if (correlationId !== undefined) return correlationId;
    }
    return undefined;
  }

  /** What an event does to its instance (undefined: nothing, e.g. an instance already finished). */
  async decide(event: object, envelope: RecordedEvent): Promise<SagaChange | undefined> {
    const start = this.starts.get(envelope.type);
    const handler = this.handlers.get(envelope.type);
    for (const candidate of [handler, start]) {
      if (!candidate) continue;
      const correlationId = associationOf(candidate.associate, event);
      if (correlationId === undefined) continue;
      const existing = await this.deps.store.load(this.name, correlationId);
      if (existing?.status === 'completed') return undefined;
      if (existing && candidate === handler) return this.run(existing, handler.method, event, { kind: 'event', envelope });
      if (!existing && candidate === start) return this.run(this.fresh(correlationId), start.method, event, { kind: 'event', envelope });
    }
    return undefined;
  }

  /**
   * Fires a claimed deadline: runs its handler on the instance and saves the change with the
   * deadline marked fired, in one transaction. A deadline whose instance finished is dropped.
   */
  async fire(deadline: SagaDeadline, owner: string): Promise<void> {
    const instance = await this.deps.store.load(this.name, deadline.correlationId);
    const method = this.deadlineHandlers.get(deadline.name);
    if (!instance || instance.status === 'completed' || !method) {
      if (!method) this.logger.warn(`Saga "${this.name}" has no @OnDeadline('${deadline.name}'); deadline ${deadline.id} dropped.`);
      await this.deps.store.dropDeadline(deadline.id, owner);
      return;
    }
    const change = await this.run(instance, method, deadline, { kind: 'deadline', deadline });
    await this.deps.store.save({ ...change, fired: { id: deadline.id, owner } });
  }

  private fresh(correlationId: string): SagaInstance {
    const now = this.clock.now();
    return {
      sagaName: this.name,
      correlationId,
      state: {},
      stateVersion: this.stateVersion,
      version: 0,
      status: 'active',
      startedAt: now,
      updatedAt: now,
      endedAt: null,
    };
  }

  private async run(instance: SagaInstance, method: string, first: unknown, trigger: SagaTrigger): Promise<SagaChange> {
    if (instance.stateVersion !== this.stateVersion) {
      const migrate = (this.instance as { migrateState?: (state: JsonValue, from: number) => JsonValue }).migrateState;
      if (typeof migrate !== 'function') {
        throw new ConfigurationError(
          `Saga "${this.name}" instance "${instance.correlationId}" has state version ${instance.stateVersion}, the saga expects ` +
            `${this.stateVersion}: implement migrateState(state, fromVersion) on ${this.instance.constructor.name}.`,
        );
      }
      instance = { ...instance, state: migrate.call(this.instance, instance.state, instance.stateVersion), stateVersion: this.stateVersion };
    }
    // The handler works on a copy: a failed attempt must not leak half-made changes into a retry.
    const state = structuredClone(instance.state) as unknown;
    const ctx = new SagaContextImpl<unknown>(this.name, instance.correlationId, state, trigger, {
      dispatcher: this.deps.dispatcher,
      now: () => this.clock.now(),
    });
    await ((this.instance as Record<string, Method>)[method]!).call(this.instance, first, ctx);
    const now = this.clock.now();
    const next: SagaInstance = {
      ...instance,
      state: JSON.parse(JSON.stringify(ctx.state ?? {})) as JsonValue,
      version: instance.version + 1,
      status: ctx.completed ? 'completed' : 'active',
      updatedAt: now,
      endedAt: ctx.completed ? now : null,
    };
    // A new instance has no stored deadline to cancel (deadlines are only stored with a saved
    // change of their instance, and completing one cancels them all): an instance that starts and
    // completes in one handling writes no cancellation.
    const fresh = instance.version === 0;
    return {
      instance: next,
      expectedVersion: instance.version,
      schedule: ctx.completed ? [] : [...ctx.scheduled.values()],
      cancel: fresh ? [] : ctx.completed ? ['*'] : [...ctx.cancelled],
    };
  }

  private requireMethod(type: ClassType, method: string): void {
    if (typeof (this.instance as Record<string, unknown>)[method] !== 'function') {
      throw new ConfigurationError(`${type.name}.${method} is decorated as a saga handler but is not a method.`);
    }
  }
}
