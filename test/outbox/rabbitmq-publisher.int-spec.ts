import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { ConfigurationError, type OutboxMessage, type PublishReport } from '@chronicle/core';
import { PublisherUnavailableError } from '@chronicle/core';
import { OutboxPublishError } from '../../libs/nestjs/src/outbox/publishers/outbox-publish.error.js';
import { RabbitMqOutboxPublisher, type RabbitMqOutboxPublisherOptions } from '@chronicle/nestjs/rabbitmq';
import { AMQP_URL, describeRabbitMq } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { outboxMessage, outboxRun } from './publisher-messages.fixture.js';

/** Messages consumed from one exclusive queue, in arrival order. */
class Inbox {
  readonly messages: ConsumeMessage[] = [];
  onMessage: ((count: number) => void) | undefined;

  constructor(readonly queue: string) {}

  get ids(): string[] {
    return this.messages.map((message) => message.properties.messageId as string);
  }

  push(message: ConsumeMessage): void {
    this.messages.push(message);
    this.onMessage?.(this.messages.length);
  }

  /** Waits until the inbox holds at least `count` messages. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<ConsumeMessage[]> {
    await waitUntil(() => this.messages.length >= count, timeoutMs, () => `${count} messages in ${this.queue}, got ${this.messages.length}`);
    return this.messages;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function body(message: ConsumeMessage): Record<string, unknown> {
  return JSON.parse(message.content.toString('utf8')) as Record<string, unknown>;
}

function failedIds(report: void | PublishReport): string[] {
  return report ? report.failed.map((failure) => failure.id) : [];
}

/** The URL of AMQP_URL with its host and port replaced by the proxy's. */
function throughProxy(proxy: TcpProxy): string {
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return url.toString();
}

function amqpTarget(): { host: string; port: number } {
  const url = new URL(AMQP_URL);
  return { host: url.hostname, port: Number(url.port || 5672) };
}

/** Either rejects, or reports every message of the batch failed: nothing was confirmed. */
async function expectNothingPublished(publishing: Promise<void | PublishReport>, batch: readonly OutboxMessage[]): Promise<void> {
  let report: void | PublishReport;
  try {
    report = await publishing;
  } catch (error) {
    expect(error).toBeInstanceOf(PublisherUnavailableError);
    return;
  }
  expect(failedIds(report).sort()).toEqual(batch.map((message) => message.id).sort());
}

/**
 * A proxy that can stop passing the broker's bytes to the client on its open connections (the
 * broker then looks alive but never confirms); new connections pass through normally.
 */
class FreezingProxy {
  port = 0;
  private server: net.Server | undefined;
  private readonly links = new Set<{ client: net.Socket; upstream: net.Socket; frozen: boolean }>();

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      const link = { client, upstream, frozen: false };
      this.links.add(link);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => {
        if (!link.frozen) client.write(chunk);
      });
      for (const socket of [client, upstream]) {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          client.destroy();
          upstream.destroy();
          this.links.delete(link);
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  freezeOpenConnections(): void {
    for (const link of this.links) link.frozen = true;
  }

  async stop(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('RabbitMqOutboxPublisher options', () => {
  it('refuses missing or invalid options with a ConfigurationError', () => {
    expect(() => new RabbitMqOutboxPublisher({ url: '', exchange: 'x' })).toThrow(ConfigurationError);
    expect(() => new RabbitMqOutboxPublisher({ url: AMQP_URL, exchange: '' })).toThrow(/exchange/);
    expect(() => new RabbitMqOutboxPublisher({ url: AMQP_URL, exchange: 'x', publishTimeoutMs: 0 })).toThrow(/publishTimeoutMs/);
    expect(() => new RabbitMqOutboxPublisher({ url: AMQP_URL, exchange: 'x', connectTimeoutMs: Number.NaN })).toThrow(/connectTimeoutMs/);
    expect(() => new RabbitMqOutboxPublisher({ url: AMQP_URL, exchange: 'x', exchangeType: 'headers' as 'topic' })).toThrow(/exchangeType/);
  });

  it('closes without ever having connected, and then refuses to publish', async () => {
    const publisher = new RabbitMqOutboxPublisher({ url: 'amqp://127.0.0.1:1', exchange: 'never' });
    await publisher.close();
    await publisher.close();
    await expect(publisher.publish([outboxMessage()])).rejects.toThrow(OutboxPublishError);
  });
});

await describeRabbitMq('RabbitMqOutboxPublisher against RabbitMQ', () => {
  let connection: ChannelModel;
  let channel: Channel;
  let exchanges: string[] = [];
  let publishers: RabbitMqOutboxPublisher[] = [];
  let proxies: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    connection = await amqp.connect(AMQP_URL);
    channel = await connection.createChannel();
  });

  afterAll(async () => {
    await connection.close();
  });

  afterEach(async () => {
    await Promise.all(publishers.map((publisher) => publisher.close()));
    await Promise.all(proxies.map((proxy) => proxy.stop()));
    for (const exchange of exchanges) await channel.deleteExchange(exchange);
    publishers = [];
    proxies = [];
    exchanges = [];
  });

  /** A fresh exchange, declared as the publisher declares it so that a queue can be bound first. */
  async function freshExchange(type: 'topic' | 'direct' | 'fanout' = 'topic'): Promise<string> {
    const exchange = `chr_test_outbox_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    exchanges.push(exchange);
    await channel.assertExchange(exchange, type, { durable: true });
    return exchange;
  }

  async function inbox(exchange: string, pattern = '#', queueArguments: Record<string, unknown> = {}): Promise<Inbox> {
    const { queue } = await channel.assertQueue('', { exclusive: true, arguments: queueArguments });
    await channel.bindQueue(queue, exchange, pattern);
    const box = new Inbox(queue);
    await channel.consume(queue, (message) => message && box.push(message), { noAck: true });
    return box;
  }

  function publisher(options: RabbitMqOutboxPublisherOptions): RabbitMqOutboxPublisher {
    const created = new RabbitMqOutboxPublisher(options);
    publishers.push(created);
    return created;
  }

  async function tcpProxy(): Promise<TcpProxy> {
    const { host, port } = amqpTarget();
    const proxy = new TcpProxy(host, port);
    proxies.push(proxy);
    await proxy.start();
    return proxy;
  }

  it('publishes each message persistent, as JSON, with the entry id, the event type and the event headers', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const full = outboxMessage({
      version: 7,
      schemaVersion: 2,
      payload: { accountId: 'acc-7', amount: 1250, tags: ['a', 'b'], nested: { ok: true, none: null } },
      metadata: { commandId: 'cmd-1', correlationId: 'corr-1', causationId: 'cause-1', expectedVersion: 6, tenant: 'acme' },
    });
    const bare = outboxMessage({ eventType: 'account.opened', metadata: {} });

    expect(await publisher({ url: AMQP_URL, exchange }).publish([full, bare])).toBeUndefined();
    const [first, second] = await box.waitFor(2);

    expect(first?.fields).toMatchObject({ exchange, routingKey: 'money.deposited', redelivered: false });
    expect(first?.properties).toEqual({
      contentType: 'application/json',
      deliveryMode: 2,
      messageId: full.id,
      type: 'money.deposited',
      timestamp: Math.floor(Date.parse('2024-05-06T07:08:09.123Z') / 1000),
      correlationId: 'corr-1',
      headers: {
        'x-causation-id': 'cause-1',
        'x-command-id': 'cmd-1',
        'x-aggregate-type': 'account',
        'x-aggregate-id': full.aggregateId,
        'x-stream-version': 7,
        'x-schema-version': 2,
        'x-event-id': full.eventId,
      },
    });
    expect(body(first!)).toEqual({
      id: full.eventId,
      type: 'money.deposited',
      aggregateType: 'account',
      aggregateId: full.aggregateId,
      version: 7,
      schemaVersion: 2,
      payload: { accountId: 'acc-7', amount: 1250, tags: ['a', 'b'], nested: { ok: true, none: null } },
      metadata: { commandId: 'cmd-1', correlationId: 'corr-1', causationId: 'cause-1', expectedVersion: 6, tenant: 'acme' },
      occurredAt: '2024-05-06T07:08:09.123Z',
    });

    // Ids the metadata does not hold are left out, not sent empty.
    expect(second?.fields.routingKey).toBe('account.opened');
    expect(second?.properties.correlationId).toBeUndefined();
    expect(second?.properties.headers).toEqual({
      'x-aggregate-type': 'account',
      'x-aggregate-id': bare.aggregateId,
      'x-stream-version': 1,
      'x-schema-version': 1,
      'x-event-id': bare.eventId,
    });
    expect(body(second!).metadata).toEqual({});
  });

  it('puts the W3C trace context in the AMQP headers: the relay span, else the stored one; a malformed one stays out', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const stored = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const producer = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    const fromEvent = outboxMessage({ metadata: { traceparent: stored, tracestate: 'vendor=1' } });
    const fromRelay = outboxMessage({ metadata: { traceparent: stored }, traceContext: { traceparent: producer } });
    const malformed = outboxMessage({ metadata: { traceparent: '00-not-a-trace', tracestate: 'vendor=1' } });

    expect(await publisher({ url: AMQP_URL, exchange }).publish([fromEvent, fromRelay, malformed])).toBeUndefined();
    const received = await box.waitFor(3);
    const headersOf = (id: string) => received.find((message) => message.properties.messageId === id)?.properties.headers ?? {};
    expect(headersOf(fromEvent.id)).toMatchObject({ traceparent: stored, tracestate: 'vendor=1' });
    expect(headersOf(fromRelay.id)).toMatchObject({ traceparent: producer });
    expect(headersOf(fromRelay.id)['tracestate']).toBeUndefined();
    expect(headersOf(malformed.id)['traceparent']).toBeUndefined();
    expect(headersOf(malformed.id)['tracestate']).toBeUndefined();
  });

  it('keeps per-aggregate order across a batch of interleaved aggregates', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const runs = [outboxRun(30), outboxRun(30, { aggregateType: 'ledger' }), outboxRun(30)];
    const batch = runs.flat();

    expect(await publisher({ url: AMQP_URL, exchange }).publish(batch)).toBeUndefined();
    const received = await box.waitFor(batch.length);

    expect(new Set(box.ids)).toEqual(new Set(batch.map((message) => message.id)));
    for (const run of runs) {
      const versions = received.filter((message) => message.properties.headers?.['x-aggregate-id'] === run[0]?.aggregateId).map((message) => body(message).version);
      expect(versions).toEqual(run.map((message) => message.version));
    }
  });

  it('routes by event type by default', async () => {
    const exchange = await freshExchange();
    const deposits = await inbox(exchange, 'money.deposited');
    const everything = await inbox(exchange, '#');
    const deposit = outboxMessage();
    const opened = outboxMessage({ eventType: 'account.opened' });

    expect(await publisher({ url: AMQP_URL, exchange }).publish([opened, deposit])).toBeUndefined();
    await everything.waitFor(2);
    await deposits.waitFor(1);
    await pause(100);

    expect(deposits.ids).toEqual([deposit.id]);
    expect(deposits.messages[0]?.fields.routingKey).toBe('money.deposited');
  });

  it('routes with a custom routing key on a direct exchange', async () => {
    const exchange = await freshExchange('direct');
    const ledgers = await inbox(exchange, 'ledger');
    const accounts = await inbox(exchange, 'account');
    const ledger = outboxMessage({ aggregateType: 'ledger' });
    const account = outboxMessage({ aggregateType: 'account' });

    const custom = publisher({ url: AMQP_URL, exchange, exchangeType: 'direct', routingKey: (message) => message.aggregateType });
    expect(await custom.publish([account, ledger])).toBeUndefined();
    await ledgers.waitFor(1);
    await accounts.waitFor(1);
    await pause(100);

    expect(ledgers.ids).toEqual([ledger.id]);
    expect(ledgers.messages[0]?.fields.routingKey).toBe('ledger');
    expect(accounts.ids).toEqual([account.id]);
  });

  it('reports a failure when the routing key cannot be computed, and stops only that aggregate', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const broken = outboxRun(2, { aggregateType: 'broken' });
    const fine = outboxRun(2);
    const custom = publisher({
      url: AMQP_URL,
      exchange,
      routingKey: (message) => {
        if (message.aggregateType === 'broken') throw new Error('no route for broken');
        return message.eventType;
      },
    });

    const report = await custom.publish([...broken, ...fine]);
    await box.waitFor(2);

    expect(failedIds(report)).toEqual(broken.map((message) => message.id));
    expect(report?.failed[0]?.error).toBeInstanceOf(OutboxPublishError);
    expect(String((report?.failed[0]?.error as Error).message)).toContain('no route for broken');
    expect(box.ids).toEqual(fine.map((message) => message.id));
  });

  it('refuses an existing exchange of another type with a ConfigurationError', async () => {
    const exchange = await freshExchange('fanout');
    await expect(publisher({ url: AMQP_URL, exchange, exchangeType: 'topic' }).publish([outboxMessage()])).rejects.toThrow(ConfigurationError);
  });

  it('fails while the broker is unreachable without crashing, and reconnects on the next publish once it is back', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const proxy = await tcpProxy();
    const viaProxy = publisher({ url: throughProxy(proxy), exchange, connectTimeoutMs: 2000 });

    const before = outboxRun(3);
    expect(await viaProxy.publish(before)).toBeUndefined();
    await box.waitFor(3);

    await proxy.stop();
    const during = [...outboxRun(2), ...outboxRun(2)];
    await expectNothingPublished(viaProxy.publish(during), during);
    // Again while it is still down: the reconnect attempt is refused and reported, nothing crashes.
    await expectNothingPublished(viaProxy.publish(during), during);

    await proxy.start();
    const after = outboxRun(3);
    expect(await viaProxy.publish(after)).toBeUndefined();
    // The relay retries what failed: it goes out too.
    expect(await viaProxy.publish(during)).toBeUndefined();
    await box.waitFor(3 + 3 + 4);
    await pause(100);

    expect(box.ids.slice(0, 6)).toEqual([...before, ...after].map((message) => message.id));
    // The two aggregates of `during` go out concurrently: only their own order is fixed.
    for (const run of [during.slice(0, 2), during.slice(2)]) {
      expect(box.ids.slice(6).filter((id) => run.some((message) => message.id === id))).toEqual(run.map((message) => message.id));
    }
    expect(box.ids).toHaveLength(10);
  }, 30_000);

  it('rejects when no connection can be opened at all', async () => {
    const proxy = await tcpProxy();
    const url = throughProxy(proxy);
    await proxy.stop();

    const started = Date.now();
    const failure = await publisher({ url, exchange: 'chr_test_never_declared', connectTimeoutMs: 1000 })
      .publish([outboxMessage()])
      .then(
        () => undefined,
        (error: unknown) => error,
      );

    expect(failure).toBeInstanceOf(PublisherUnavailableError);
    expect((failure as Error).message).toMatch(/Could not connect to RabbitMQ .*127\.0\.0\.1.*Nothing was published/);
    expect((failure as Error).message).not.toContain('guest:guest');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('when the connection drops mid-batch, reports every unconfirmed message and stops each aggregate at its first failure', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const proxy = await tcpProxy();
    const viaProxy = publisher({ url: throughProxy(proxy), exchange });
    const runs = Array.from({ length: 10 }, () => outboxRun(200));
    const batch = runs.flat();
    // Warm up, so the drop hits the batch and not the connection handshake.
    expect(await viaProxy.publish([outboxMessage({ eventType: 'warm.up' })])).toBeUndefined();
    await box.waitFor(1);
    box.messages.length = 0;
    let stopping: Promise<void> | undefined;
    box.onMessage = (count) => {
      if (count === 100) stopping = proxy.stop();
    };

    const report = await viaProxy.publish(batch);
    const failed = new Set(failedIds(report));

    expect(failed.size).toBeGreaterThan(0);
    // Resolving means published: every message not reported failed has reached the queue.
    const confirmed = batch.filter((message) => !failed.has(message.id)).map((message) => message.id);
    await waitUntil(() => confirmed.every((id) => box.ids.includes(id)), 10_000, () => 'every confirmed message in the queue');
    for (const run of runs) {
      const firstFailure = run.findIndex((message) => failed.has(message.id));
      if (firstFailure >= 0) expect(run.slice(firstFailure).every((message) => failed.has(message.id))).toBe(true);
      const delivered = box.messages.filter((message) => message.properties.headers?.['x-aggregate-id'] === run[0]?.aggregateId).map((message) => body(message).version as number);
      expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
    }
    for (const failure of report?.failed ?? []) expect(failure.error instanceof PublisherUnavailableError || failure.error instanceof OutboxPublishError).toBe(true);

    // The relay republishes what failed once the broker is back; then everything has arrived.
    box.onMessage = undefined;
    await stopping;
    await proxy.start();
    const retry = batch.filter((message) => failed.has(message.id));
    expect(await viaProxy.publish(retry)).toBeUndefined();
    await waitUntil(() => batch.every((message) => box.ids.includes(message.id)), 10_000, () => 'every message in the queue');
  }, 60_000);

  it('reports a broker nack, does not publish the rest of that aggregate, and goes on with the others', async () => {
    const exchange = await freshExchange();
    // A queue that holds one message and refuses (nacks) more: the broker's reject-publish overflow.
    const { queue: limited } = await channel.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await channel.bindQueue(limited, exchange, 'limited.#');
    const audit = await inbox(exchange, '#');
    const refused = outboxRun(3, { eventType: 'limited.event' });
    const others = outboxRun(2, { eventType: 'free.event' });
    const nacking = publisher({ url: AMQP_URL, exchange });

    const report = await nacking.publish([...refused, ...others]);

    expect(failedIds(report)).toEqual([refused[1]?.id, refused[2]?.id]);
    const [nacked, skipped] = report?.failed ?? [];
    expect(nacked?.error).toBeInstanceOf(OutboxPublishError);
    expect((nacked?.error as Error).message).toMatch(/nack/);
    expect((skipped?.error as Error).message).toContain(`entry ${refused[1]?.id} of the same aggregate failed first`);
    await waitUntil(() => [refused[0], ...others].every((message) => audit.ids.includes(message!.id)), 5000, () => 'the accepted messages');
    await pause(200);
    expect(audit.ids).not.toContain(refused[2]?.id);

    // The channel survives a nack: once the queue has room, the retry goes out on the same publisher.
    await channel.purgeQueue(limited);
    expect(await nacking.publish([refused[1]!])).toBeUndefined();
  });

  it('reports a batch whose channel the broker closes (exchange deleted) and recovers on the next publish', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const recovering = publisher({ url: AMQP_URL, exchange });
    expect(await recovering.publish([outboxMessage()])).toBeUndefined();
    await box.waitFor(1);

    await channel.deleteExchange(exchange);
    const lost = [...outboxRun(2), ...outboxRun(2)];
    const report = await recovering.publish(lost);

    expect(failedIds(report).sort()).toEqual(lost.map((message) => message.id).sort());
    const causes = (report?.failed ?? []).map((failure) => String((failure.error as Error).message)).join('\n');
    expect(causes).toMatch(/NOT_FOUND|404/);

    // The exchange comes back (here by the test, as an operator would) and the queue is bound again.
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.bindQueue(box.queue, exchange, '#');
    const after = outboxRun(2);
    expect(await recovering.publish(after)).toBeUndefined();
    await box.waitFor(3);
    await pause(100);
    expect(box.ids.slice(1)).toEqual(after.map((message) => message.id));
  });

  it('reports messages the broker does not confirm in time, and replaces the connection', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const proxy = new FreezingProxy(amqpTarget());
    proxies.push(proxy);
    await proxy.start();
    const url = new URL(AMQP_URL);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const slow = publisher({ url: url.toString(), exchange, publishTimeoutMs: 500 });
    expect(await slow.publish([outboxMessage()])).toBeUndefined();

    proxy.freezeOpenConnections();
    const stuck = [...outboxRun(2), outboxMessage()];
    const started = Date.now();
    const report = await slow.publish(stuck);

    expect(Date.now() - started).toBeLessThan(3000);
    expect(failedIds(report).sort()).toEqual(stuck.map((message) => message.id).sort());
    expect(String((report?.failed ?? []).map((failure) => (failure.error as Error).message))).toMatch(/did not confirm .* within 500 ms/);

    const after = outboxRun(2);
    expect(await slow.publish(after)).toBeUndefined();
    await waitUntil(() => after.every((message) => box.ids.includes(message.id)), 5000, () => 'the messages after the timeout');
  }, 20_000);

  it('serialises concurrent publish calls and refuses to publish after close', async () => {
    const exchange = await freshExchange();
    const box = await inbox(exchange);
    const shared = publisher({ url: AMQP_URL, exchange });
    const first = outboxRun(20);
    const second = outboxRun(20, { aggregateId: first[0]!.aggregateId, aggregateType: first[0]!.aggregateType, streamId: first[0]!.streamId }, 21);

    const results = await Promise.all([shared.publish(first), shared.publish(second)]);
    await box.waitFor(40);

    expect(results).toEqual([undefined, undefined]);
    expect(box.messages.map((message) => body(message).version)).toEqual([...first, ...second].map((message) => message.version));
    await shared.close();
    await expect(shared.publish([outboxMessage()])).rejects.toThrow(/closed/);
  });
});
