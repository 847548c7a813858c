import type { OutboxSubscription } from '../ports/outbox-store.port.js';

/**
 * The aggregate id an outbox entry carries: the stream id without the `${aggregateType}-` prefix
 * the command gateway names streams with, or the whole stream id when it has no such prefix
 * (streams written by hand). Every `OutboxStore` derives it this way, so consumers see the same
 * id whichever store wrote the entry.
 */
export function outboxAggregateId(streamId: string, aggregateType: string): string {
  const prefix = `${aggregateType}-`;
  return streamId.startsWith(prefix) ? streamId.slice(prefix.length) : streamId;
}

/** Whether an outbox handler receives events of this type (`'*'`: every type). */
export function outboxSubscriptionReceives(subscription: Pick<OutboxSubscription, 'events'>, eventType: string): boolean {
  return subscription.events === '*' || subscription.events.includes(eventType);
}
