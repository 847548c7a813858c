import { Inject, Injectable } from '@nestjs/common';
import type { OutboxAdminStore, OutboxStats } from '@chronicle/core';
import { CHRONICLE_OUTBOX_STORE } from '../constants/chronicle.constants.js';

/** The outbox's backlog per handler, with the age of its oldest pending entry. */
export interface OutboxHandlerHealth extends OutboxStats {
  /** Milliseconds since the oldest pending entry's event occurred (0 when nothing is pending). */
  oldestPendingAgeMs: number;
}

/** Backlog, age of the oldest pending entry and dead letters, per handler. */
@Injectable()
export class OutboxMonitor {
  constructor(@Inject(CHRONICLE_OUTBOX_STORE) private readonly store: OutboxAdminStore) {}

  async status(): Promise<OutboxHandlerHealth[]> {
    const now = Date.now();
    return (await this.store.stats()).map((stats) => ({
      ...stats,
      oldestPendingAgeMs: stats.oldestPendingAt ? Math.max(0, now - stats.oldestPendingAt.getTime()) : 0,
    }));
  }
}
