import { Injectable } from '@nestjs/common';
import type { OutboxMessage, OutboxPublisher } from '@chronicle/core';
import { OutboxHandler } from '@chronicle/nestjs';

/** What the scenario wants done with each batch the relay publishes (nothing by default). */
export type PublishHook = (batch: readonly OutboxMessage[], calledAt: number, publisher: BenchPublisher) => void | Promise<void>;

let hook: PublishHook | undefined;

/** Routes every later publish call, in every app of this process, to `next` (undefined: no-op). */
export function setPublishHook(next: PublishHook | undefined): void {
  hook = next;
}

/** The bench's one outbox handler: every event, a publish that does nothing but call the scenario's hook. */
@Injectable()
@OutboxHandler({ name: 'bench-noop', events: '*' })
export class BenchPublisher implements OutboxPublisher {
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    const calledAt = performance.now();
    if (hook) await hook(batch, calledAt, this);
  }
}
