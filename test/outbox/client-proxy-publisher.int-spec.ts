import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ClientProxy, ClientProxyFactory, Transport, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EMPTY, type Observable } from 'rxjs';
import { ConfigurationError, outboxTraceHeaders, type PublishReport } from '@chronicle/core';
import { ClientProxyOutboxPublisher, type OutboxEventData } from '@chronicle/nestjs/microservices';
import { OutboxPublishError } from '../../libs/nestjs/src/outbox/publishers/outbox-publish.error.js';
import { NATS_URL, describeNats } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { outboxMessage, outboxRun } from './publisher-messages.fixture.js';

function failedIds(report: void | PublishReport): string[] {
  return report ? report.failed.map((failure) => failure.id) : [];
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A ClientProxy whose emits run `behaviour` (reject to fail one), recording what was dispatched. */
class StubClientProxy extends ClientProxy {
  readonly dispatched: Array<{ pattern: unknown; data: OutboxEventData }> = [];

  constructor(private readonly behaviour: (data: OutboxEventData) => Promise<void> = async () => undefined) {
    super();
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {}

  unwrap<T>(): T {
    throw new Error('StubClientProxy wraps no client.');
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: new Error('StubClientProxy does not answer requests.') });
    return () => undefined;
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket<OutboxEventData>): Promise<T> {
    this.dispatched.push({ pattern: packet.pattern, data: packet.data });
    await this.behaviour(packet.data);
    return undefined as T;
  }
}

describe('ClientProxyOutboxPublisher with a stub ClientProxy', () => {
  it('stops an aggregate at its first failure, reports it and its later messages, and goes on with the others', async () => {
    const [a1, a2, a3] = outboxRun(3);
    const [b1, b2] = outboxRun(2);
    const proxy = new StubClientProxy(async (data) => {
      if (data.messageId === a2!.id) throw new Error('broker said no');
    });

    const report = await new ClientProxyOutboxPublisher(proxy).publish([a1!, a2!, a3!, b1!, b2!]);

    expect(failedIds(report)).toEqual([a2!.id, a3!.id]);
    const [refused, skipped] = report?.failed ?? [];
    expect(refused?.error).toBeInstanceOf(OutboxPublishError);
    expect((refused?.error as Error).message).toContain('broker said no');
    expect(((refused?.error as Error).cause as Error).message).toBe('broker said no');
    expect((skipped?.error as Error).message).toContain(`entry ${a2!.id} of the same aggregate failed first`);
    // a3 was never emitted; b1 and b2 were, in order.
    expect(proxy.dispatched.map((entry) => entry.data.messageId)).toEqual([a1!.id, a2!.id, b1!.id, b2!.id]);
  });

  it('reports an emit that does not complete in time, and goes on', async () => {
    const [stuck] = outboxRun(1);
    const [fine] = outboxRun(1);
    const proxy = new StubClientProxy((data) => (data.messageId === stuck!.id ? new Promise<void>(() => undefined) : Promise.resolve()));

    const started = Date.now();
    const report = await new ClientProxyOutboxPublisher(proxy, { emitTimeoutMs: 200 }).publish([stuck!, fine!]);

    expect(Date.now() - started).toBeLessThan(2000);
    expect(failedIds(report)).toEqual([stuck!.id]);
    expect((report?.failed[0]?.error as Error).message).toMatch(/did not complete within 200 ms/);
    expect(proxy.dispatched.map((entry) => entry.data.messageId)).toEqual([stuck!.id, fine!.id]);
  });

  it('counts an emit that completes without a value as published', async () => {
    class SilentProxy extends StubClientProxy {
      override emit<TResult = unknown>(): Observable<TResult> {
        return EMPTY;
      }
    }
    await expect(new ClientProxyOutboxPublisher(new SilentProxy()).publish([outboxMessage()])).resolves.toBeUndefined();
  });

  it('emits with the event type as pattern by default, or a custom one', async () => {
    const message = outboxMessage({ eventType: 'account.opened', aggregateType: 'ledger' });
    const byType = new StubClientProxy();
    const custom = new StubClientProxy();

    await new ClientProxyOutboxPublisher(byType).publish([message]);
    await new ClientProxyOutboxPublisher(custom, { pattern: (m) => `${m.aggregateType}.events` }).publish([message]);

    expect(byType.dispatched[0]?.pattern).toBe('account.opened');
    expect(custom.dispatched[0]?.pattern).toBe('ledger.events');
  });

  it('emits what the envelope builds from the event data', async () => {
    const message = outboxMessage();
    const proxy = new StubClientProxy();

    await new ClientProxyOutboxPublisher(proxy, { envelope: (data, m) => ({ key: m.streamId, value: data }) }).publish([message]);

    expect(proxy.dispatched[0]?.data).toEqual({ key: message.streamId, value: expect.objectContaining({ messageId: message.id, id: message.eventId }) });
  });

  it('carries the trace context in the data, and hands it to an envelope that puts it in transport headers', async () => {
    const stored = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const producer = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    const traced = outboxMessage({ metadata: { traceparent: stored }, traceContext: { traceparent: producer, tracestate: 'v=1' } });
    const malformed = outboxMessage({ metadata: { traceparent: 'garbage' } });
    const plain = new StubClientProxy();
    const withHeaders = new StubClientProxy();

    await new ClientProxyOutboxPublisher(plain).publish([traced, malformed]);
    await new ClientProxyOutboxPublisher(withHeaders, { envelope: (data, m) => ({ value: data, headers: { ...outboxTraceHeaders(m) } }) }).publish([traced]);

    expect(plain.dispatched[0]?.data).toMatchObject({ traceparent: producer, tracestate: 'v=1' });
    expect(plain.dispatched[1]?.data).not.toHaveProperty('traceparent');
    expect(withHeaders.dispatched[0]?.data).toMatchObject({ headers: { traceparent: producer, tracestate: 'v=1' } });
  });

  it('refuses a missing client or a bad timeout with a ConfigurationError', () => {
    expect(() => new ClientProxyOutboxPublisher(undefined as unknown as ClientProxy)).toThrow(ConfigurationError);
    expect(() => new ClientProxyOutboxPublisher(new StubClientProxy(), { emitTimeoutMs: 0 })).toThrow(/emitTimeoutMs/);
  });
});

await describeNats('ClientProxyOutboxPublisher over NATS', () => {
  let subscriber: NatsConnection;
  let clients: ClientProxy[] = [];
  let proxies: TcpProxy[] = [];

  beforeEach(async () => {
    subscriber = await connect({ servers: NATS_URL });
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    await subscriber.close();
    clients = [];
    proxies = [];
  });

  function natsClient(servers = NATS_URL): ClientProxy {
    const client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [servers], timeout: 1000 } });
    clients.push(client);
    return client;
  }

  /** Collects what arrives on `subject` (wildcards allowed), decoded from Nest's `{ pattern, data }` packet. */
  async function receive(subject: string): Promise<Array<{ subject: string; pattern: string; data: OutboxEventData }>> {
    const received: Array<{ subject: string; pattern: string; data: OutboxEventData }> = [];
    subscriber.subscribe(subject, {
      callback: (error, message) => {
        if (error) throw error;
        const packet = message.json<{ pattern: string; data: OutboxEventData }>();
        received.push({ subject: message.subject, pattern: packet.pattern, data: packet.data });
      },
    });
    // The subscription must reach the server before anything is published.
    await subscriber.flush();
    return received;
  }

  const uniquePrefix = (): string => `chr-test-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

  it('emits every message in batch order with the message body and the entry id', async () => {
    const prefix = uniquePrefix();
    const received = await receive(`${prefix}.>`);
    const full = outboxMessage({
      version: 4,
      schemaVersion: 2,
      payload: { accountId: 'acc-4', amount: 99, nested: { list: [1, 2] } },
      metadata: { commandId: 'cmd-4', correlationId: 'corr-4', causationId: 'cause-4' },
    });
    const batch = [full, ...outboxRun(10), ...outboxRun(10, { aggregateType: 'ledger' }), ...outboxRun(10)];
    const publisher = new ClientProxyOutboxPublisher(natsClient(), { pattern: (m) => `${prefix}.${m.aggregateType}.${m.eventType}` });

    expect(await publisher.publish(batch)).toBeUndefined();
    await waitUntil(() => received.length >= batch.length, 5000, () => `${batch.length} NATS messages, got ${received.length}`);

    expect(received.map((entry) => entry.data.messageId)).toEqual(batch.map((message) => message.id));
    expect(received[0]).toEqual({
      subject: `${prefix}.account.money.deposited`,
      pattern: `${prefix}.account.money.deposited`,
      data: {
        messageId: full.id,
        id: full.eventId,
        type: 'money.deposited',
        aggregateType: 'account',
        aggregateId: full.aggregateId,
        version: 4,
        schemaVersion: 2,
        payload: { accountId: 'acc-4', amount: 99, nested: { list: [1, 2] } },
        metadata: { commandId: 'cmd-4', correlationId: 'corr-4', causationId: 'cause-4' },
        occurredAt: '2024-05-06T07:08:09.123Z',
      },
    });
  });

  it('uses the event type as the subject by default', async () => {
    const eventType = `${uniquePrefix()}.opened`;
    const received = await receive(eventType);
    const message = outboxMessage({ eventType });

    expect(await new ClientProxyOutboxPublisher(natsClient()).publish([message])).toBeUndefined();
    await waitUntil(() => received.length === 1, 5000, () => 'the NATS message');

    expect(received[0]?.subject).toBe(eventType);
    expect(received[0]?.data.messageId).toBe(message.id);
  });

  it('reports every message failed while NATS is unreachable, and publishes once it is back', async () => {
    const target = new URL(NATS_URL);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 4222));
    proxies.push(proxy);
    await proxy.start();
    const prefix = uniquePrefix();
    const received = await receive(`${prefix}.>`);
    const publisher = new ClientProxyOutboxPublisher(natsClient(`nats://127.0.0.1:${proxy.port}`), {
      pattern: (m) => `${prefix}.${m.eventType}`,
      emitTimeoutMs: 3000,
    });
    await proxy.stop();

    const batch = [...outboxRun(2), ...outboxRun(2)];
    const report = await publisher.publish(batch);
    expect(failedIds(report)).toEqual(batch.map((message) => message.id));

    await proxy.start();
    expect(await publisher.publish(batch)).toBeUndefined();
    await waitUntil(() => received.length === batch.length, 5000, () => 'the messages after the outage');
    expect(received.map((entry) => entry.data.messageId)).toEqual(batch.map((message) => message.id));
  }, 20_000);
});
