import { Injectable } from '@nestjs/common';
import { Chronicle, type OutboxRelay, type RelayBatchResult } from '@chronicle/core';

/**
 * The outbox relay of this instance, as the Chronicle runtime runs it: one single-flight job per
 * handler, polled and woken after local commits and by the storage's notifications (PostgreSQL
 * LISTEN, one connection shared with the subscriptions). Several instances share the work through
 * the store's leases. On shutdown the runtime finishes the batch in flight and gives back its leases.
 */
@Injectable()
export class OutboxRelayService {
  constructor(private readonly chronicle: Chronicle) {}

  /** The relay, once the application has started (undefined when no handler exists). */
  get current(): OutboxRelay | undefined {
    return this.chronicle.relay;
  }

  /**
   * Drains every handler now, once the backfill is done (tests and admin tools use it to avoid
   * waiting for a poll); the runtime's subscriptions and due saga deadlines run too.
   */
  async flush(): Promise<void> {
    await this.chronicle.flush();
  }

  /** Runs one batch of one handler. */
  runOnce(handler: string): Promise<RelayBatchResult> | undefined {
    return this.chronicle.relay?.runOnce(handler);
  }
}
