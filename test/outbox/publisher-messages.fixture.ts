import { randomUUID } from 'node:crypto';
import type { EventMetadata, JsonObject, OutboxMessage } from '@chronicle/core';

/** An outbox message as the relay hands it to a publisher; every field can be overridden. */
export function outboxMessage(overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  const aggregateType = overrides.aggregateType ?? 'account';
  const aggregateId = overrides.aggregateId ?? randomUUID();
  const payload: JsonObject = overrides.payload ?? { accountId: aggregateId, amount: 10 };
  const metadata: EventMetadata = overrides.metadata ?? { commandId: randomUUID(), correlationId: randomUUID(), causationId: randomUUID() };
  return {
    id: randomUUID(),
    handler: 'publisher-test',
    aggregateType,
    aggregateId,
    streamId: `${aggregateType}-${aggregateId}`,
    version: 1,
    eventId: randomUUID(),
    eventType: 'money.deposited',
    schemaVersion: 1,
    event: { ...payload },
    occurredAt: new Date('2024-05-06T07:08:09.123Z'),
    attempts: 0,
    ...overrides,
    payload,
    metadata,
  };
}

/** `count` consecutive versions of one aggregate, starting at `from`. */
export function outboxRun(count: number, overrides: Partial<OutboxMessage> = {}, from = 1): OutboxMessage[] {
  const first = outboxMessage({ ...overrides, version: from });
  return Array.from({ length: count }, (_, index) =>
    index === 0 ? first : outboxMessage({ ...overrides, aggregateType: first.aggregateType, aggregateId: first.aggregateId, streamId: first.streamId, version: from + index }),
  );
}
