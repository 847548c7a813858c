import { Inject, Injectable } from '@nestjs/common';
import type { OutboxAdminStore, OutboxEntry } from '@chronicle/core';
import { CHRONICLE_OUTBOX_STORE } from '../constants/chronicle.constants.js';

/** Dead letters of the outbox: look at them, and re-drive them once the cause is fixed. */
@Injectable()
export class OutboxAdmin {
  constructor(@Inject(CHRONICLE_OUTBOX_STORE) private readonly store: OutboxAdminStore) {}

  /** Dead-lettered entries (of one handler, or all), oldest first. */
  deadLetters(handler?: string, limit = 100): Promise<OutboxEntry[]> {
    return this.store.deadLetters(handler, limit);
  }

  /**
   * Makes dead-lettered entries pending again with their attempts reset (all of the handler's, or
   * the given ids); their aggregates then flow on in version order. Returns how many.
   */
  redrive(handler: string, ids?: readonly string[]): Promise<number> {
    return this.store.redrive(handler, ids);
  }
}
