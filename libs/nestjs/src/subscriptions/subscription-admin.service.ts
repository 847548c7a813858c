import { Inject, Injectable } from '@nestjs/common';
import type {
  CheckpointStore,
  FeedCursor,
  ListSagasOptions,
  ParkedEvent,
  ParkedQuery,
  RebuildProgress,
  SagaDeadline,
  SagaInstance,
  SagaStore,
  SubscriptionStatus,
} from '@chronicle/core';
import { CHRONICLE_CHECKPOINT_STORE, CHRONICLE_SAGA_STORE } from '../constants/chronicle.constants.js';
import { SubscriptionsService } from './subscriptions.service.js';

/**
 * Operations on projections and sagas, from any instance (what it reads and writes is in the
 * database): status, read-your-writes waits, rebuilds, parked events and their re-drive, saga
 * instances. Subscription names are `projection:<name>` and `saga:<name>`.
 */
@Injectable()
export class SubscriptionAdmin {
  constructor(
    private readonly subscriptions: SubscriptionsService,
    @Inject(CHRONICLE_CHECKPOINT_STORE) private readonly checkpoints: CheckpointStore,
    @Inject(CHRONICLE_SAGA_STORE) private readonly sagaStore: SagaStore,
  ) {}

  /** Position, lag, parked events and last error of every subscription this application declares. */
  async status(): Promise<SubscriptionStatus[]> {
    return Promise.all(this.subscriptions.runners().map((runner) => runner.status()));
  }

  /**
   * Resolves once projection `name` has passed `position` (a command result's `cursor`), on
   * whichever instance runs it; `ProjectionWaitTimeoutError` after `timeoutMs`.
   */
  async waitForProjection(name: string, position: FeedCursor, timeoutMs = 5_000): Promise<void> {
    return this.subscriptions.projection(name).runner.waitFor(position, timeoutMs);
  }

  /**
   * Rebuilds projection `name` from the start of the journal in one transaction: its `clear(tx)`
   * empties the read model, the feed is replayed into it, and the result replaces the old model
   * only when it commits, caught up. The live runner (here or elsewhere) continues from there.
   */
  async rebuildProjection(name: string, onProgress?: (progress: RebuildProgress) => void): Promise<RebuildProgress> {
    const { handler, runner } = this.subscriptions.projection(name);
    return runner.rebuild((tx) => handler.clear(tx), onProgress);
  }

  /** The parked events of a subscription, by stream and version. */
  async parked(subscription: string, options: ParkedQuery = {}): Promise<ParkedEvent[]> {
    this.subscriptions.runner(subscription);
    return this.checkpoints.parked(subscription, options);
  }

  /** Asks for the parked events of one stream (or all) to be delivered again; returns how many. */
  async redrive(subscription: string, streamId?: string): Promise<number> {
    return this.subscriptions.runner(subscription).redrive(streamId);
  }

  /** Instances of saga `name` (`status: 'active'` for the ones in flight). */
  async sagaInstances(name: string, options: ListSagasOptions = {}): Promise<SagaInstance[]> {
    this.subscriptions.saga(name);
    return this.sagaStore.list(name, options);
  }

  /** One saga instance, if it exists. */
  async sagaInstance(name: string, correlationId: string): Promise<SagaInstance | undefined> {
    this.subscriptions.saga(name);
    return this.sagaStore.load(name, correlationId);
  }

  /** The pending deadlines of one saga instance. */
  async sagaDeadlines(name: string, correlationId: string): Promise<SagaDeadline[]> {
    this.subscriptions.saga(name);
    return this.sagaStore.deadlines(name, correlationId);
  }
}
