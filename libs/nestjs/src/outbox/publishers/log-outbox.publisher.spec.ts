import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { OutboxMessage } from '@chronicle/core';
import { LogOutboxPublisher } from './log-outbox.publisher.js';

function message(overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  return {
    id: '0190a1b2-0000-7000-8000-000000000001',
    handler: 'log',
    aggregateType: 'account',
    aggregateId: 'acc-1',
    streamId: 'account-acc-1',
    version: 3,
    eventId: 'evt-3',
    eventType: 'money.deposited',
    schemaVersion: 1,
    payload: { accountId: 'acc-1', amount: 25 },
    event: { accountId: 'acc-1', amount: 25 },
    metadata: { correlationId: 'corr-1' },
    occurredAt: new Date('2024-05-06T07:08:09.123Z'),
    attempts: 0,
    ...overrides,
  };
}

describe('LogOutboxPublisher', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('logs one line per message, in order, without the payload by default', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const report = await new LogOutboxPublisher().publish([message(), message({ id: 'entry-2', version: 4, eventId: 'evt-4', metadata: {} })]);

    expect(report).toBeUndefined();
    expect(log.mock.calls.map((call) => call[0])).toEqual([
      'money.deposited v3 of account/acc-1 (entry 0190a1b2-0000-7000-8000-000000000001, event evt-3, correlation corr-1)',
      'money.deposited v4 of account/acc-1 (entry entry-2, event evt-4)',
    ]);
  });

  it('adds the payload when asked to', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    await new LogOutboxPublisher({ includePayload: true }).publish([message()]);

    expect(log.mock.calls[0]?.[0]).toMatch(/ \{"accountId":"acc-1","amount":25\}$/);
  });

  it('never fails, even when the logger throws', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => {
      throw new Error('disk full');
    });
    await expect(new LogOutboxPublisher().publish([message(), message({ id: 'entry-2' })])).resolves.toBeUndefined();
    expect(log).toHaveBeenCalledTimes(2);
  });

  it('accepts an empty batch', async () => {
    await expect(new LogOutboxPublisher().publish([])).resolves.toBeUndefined();
  });
});
