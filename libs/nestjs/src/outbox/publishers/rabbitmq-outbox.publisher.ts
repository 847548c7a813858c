import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import amqp, { type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import { ConfigurationError, PublisherUnavailableError, type OutboxMessage, type OutboxPublisher, type PublishReport, outboxTraceHeaders } from '@chronicle/core';
import { toOutboxMessageBody } from './outbox-message-body.js';
import { OutboxPublishError } from './outbox-publish.error.js';

/** Options of {@link RabbitMqOutboxPublisher}. */
export interface RabbitMqOutboxPublisherOptions {
  /** AMQP URL of the broker, e.g. `amqp://user:password@host:5672/vhost`. */
  url: string;
  /** The exchange messages are published to; asserted durable on every (re)connection. */
  exchange: string;
  /**
   * Type of the exchange, used when asserting it. An existing exchange of another type is a
   * configuration error.
   * @default 'topic'
   */
  exchangeType?: 'topic' | 'direct' | 'fanout';
  /**
   * The routing key of a message.
   * @default the event type (`message.eventType`)
   */
  routingKey?: (message: OutboxMessage) => string;
  /**
   * Longest wait for a connection, its confirm channel and the exchange assertion.
   * @default 5000
   */
  connectTimeoutMs?: number;
  /**
   * Longest wait for the broker to confirm one message. An unconfirmed message is reported failed
   * (it may still arrive: consumers dedupe on the message id) and the connection is replaced.
   * @default 10000
   */
  publishTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;
const FIRST_RECONNECT_DELAY_MS = 100;
const MAX_RECONNECT_DELAY_MS = 5_000;
/** AMQP short strings (message properties) hold at most 255 bytes. */
const SHORT_STRING_BYTES = 255;
/** Reply codes with which RabbitMQ refuses a declaration that no retry can fix. */
const SETUP_REPLY_CODES = new Set([403, 406]);

/**
 * One connection with its confirm channel. Any loss of either ends it; the next publish opens a
 * new one.
 */
class AmqpSession {
  /** Why the session ended; set once. */
  lost: Error | undefined;
  /** Pending while the channel's write buffer is full. */
  drained: Promise<void> | undefined;
  /** Resolves when the session ends. */
  readonly ended: Promise<void>;
  private channelRef: ConfirmChannel | undefined;
  private markEnded!: () => void;

  constructor(readonly connection: ChannelModel) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  get channel(): ConfirmChannel {
    if (!this.channelRef) throw new OutboxPublishError('The RabbitMQ session has no channel yet: it was used before it opened.');
    return this.channelRef;
  }

  set channel(channel: ConfirmChannel) {
    this.channelRef = channel;
  }

  /** Records why the session ended; false when it had already ended. */
  end(reason: Error): boolean {
    if (this.lost) return false;
    this.lost = reason;
    this.markEnded();
    return true;
  }

  waitForDrain(): void {
    if (this.drained || !this.channelRef) return;
    const channel = this.channelRef;
    this.drained = new Promise((resolve) => {
      const done = (): void => {
        channel.removeListener('drain', done);
        this.drained = undefined;
        resolve();
      };
      channel.once('drain', done);
      void this.ended.then(done);
    });
  }
}

/**
 * Publishes outbox messages to a RabbitMQ exchange through one connection and one confirm
 * channel, opened on the first publish and reopened (after a short backoff) on the publish after a
 * loss. A batch resolves only once the broker has confirmed its messages; nacked, unconfirmed and
 * not-attempted messages are listed in the report.
 *
 * Messages of one aggregate are sent one at a time: the next leaves only after the broker
 * confirmed the previous, so a nacked message is never overtaken by its successors. Aggregates
 * are published concurrently. Each message is persistent JSON whose `messageId` is the outbox
 * entry id (consumers dedupe on it), with the event id, aggregate and stream version in headers, and
 * the W3C `traceparent` / `tracestate` of the message when it has one.
 *
 * Unroutable messages are confirmed and dropped by RabbitMQ, as AMQP specifies: bind a queue (or
 * an alternate exchange) before publishing.
 *
 * Call `close()` on shutdown; as a Nest provider this happens in `onApplicationShutdown`.
 */
export class RabbitMqOutboxPublisher implements OutboxPublisher, OnApplicationShutdown {
  private readonly logger = new Logger(RabbitMqOutboxPublisher.name);
  private readonly exchangeType: 'topic' | 'direct' | 'fanout';
  private readonly routingKey: (message: OutboxMessage) => string;
  private readonly connectTimeoutMs: number;
  private readonly publishTimeoutMs: number;
  private readonly where: string;
  private session: AmqpSession | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private failures = 0;
  private reconnectNotBefore = 0;
  private interruptPause: (() => void) | undefined;

  constructor(private readonly options: RabbitMqOutboxPublisherOptions) {
    if (typeof options.url !== 'string' || options.url.length === 0) {
      throw new ConfigurationError('RabbitMqOutboxPublisher needs `url`, the AMQP URL of the broker (amqp://user:password@host:5672).');
    }
    if (typeof options.exchange !== 'string' || options.exchange.length === 0) {
      throw new ConfigurationError('RabbitMqOutboxPublisher needs `exchange`, the name of the exchange to publish to (the default exchange "" cannot be asserted).');
    }
    this.exchangeType = options.exchangeType ?? 'topic';
    if (!['topic', 'direct', 'fanout'].includes(this.exchangeType)) {
      throw new ConfigurationError(`RabbitMqOutboxPublisher: exchangeType "${String(this.exchangeType)}" is not one of topic, direct, fanout.`);
    }
    this.routingKey = options.routingKey ?? ((message) => message.eventType);
    this.connectTimeoutMs = positive(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
    this.publishTimeoutMs = positive(options.publishTimeoutMs, DEFAULT_PUBLISH_TIMEOUT_MS, 'publishTimeoutMs');
    this.where = `${redact(options.url)}, exchange "${options.exchange}"`;
  }

  /**
   * Publishes a batch (sorted by aggregate, then version). Rejects with `OutboxPublishError` when no
   * connection could be opened (nothing was published); otherwise resolves, listing the messages
   * the broker did not confirm. Batches run one at a time.
   */
  publish(batch: readonly OutboxMessage[]): Promise<void | PublishReport> {
    const run = this.tail.then(() => this.publishBatch(batch));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Waits for the batch in flight, then closes the channel and the connection. Later publishes
   * reject. Safe to call twice.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.interruptPause?.();
    await this.tail;
    const session = this.session;
    this.session = undefined;
    if (session?.end(new OutboxPublishError('The publisher was closed.'))) {
      await withTimeout(session.connection.close(), this.connectTimeoutMs, 'closing the connection').catch(() => undefined);
    }
  }

  /** Nest calls this on shutdown, after the relay stopped in `beforeApplicationShutdown`. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  private async publishBatch(batch: readonly OutboxMessage[]): Promise<void | PublishReport> {
    if (this.closed) throw new OutboxPublishError(`RabbitMqOutboxPublisher (${this.where}) is closed; nothing was published.`);
    if (batch.length === 0) return undefined;
    const session = await this.currentSession();
    const failures = new Map<string, unknown>();
    await Promise.all(runsByStream(batch).map((run) => this.publishRun(session, run, failures)));
    if (failures.size === 0) return undefined;
    return { failed: batch.filter((message) => failures.has(message.id)).map((message) => ({ id: message.id, error: failures.get(message.id) })) };
  }

  /** Publishes one aggregate's messages in order, stopping at the first failure. */
  private async publishRun(session: AmqpSession, run: readonly OutboxMessage[], failures: Map<string, unknown>): Promise<void> {
    for (const [index, message] of run.entries()) {
      try {
        await this.publishOne(session, message);
      } catch (error) {
        failures.set(message.id, error);
        for (const later of run.slice(index + 1)) {
          failures.set(
            later.id,
            new OutboxPublishError(`Outbox entry ${later.id} (${label(later)}) was not published: entry ${message.id} of the same aggregate failed first.`, {
              entryId: later.id,
            }),
          );
        }
        return;
      }
    }
  }

  private async publishOne(session: AmqpSession, message: OutboxMessage): Promise<void> {
    let routingKey: string;
    let content: Buffer;
    let properties: Options.Publish;
    try {
      routingKey = this.routingKey(message);
      content = Buffer.from(JSON.stringify(toOutboxMessageBody(message)));
      properties = publishProperties(message);
    } catch (error) {
      throw new OutboxPublishError(`Outbox entry ${message.id} (${label(message)}) could not be turned into an AMQP message: ${messageOf(error)}.`, {
        cause: error,
        entryId: message.id,
      });
    }
    while (session.drained && !session.lost) await session.drained;
    if (session.lost) throw this.lostError(message, session.lost);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new OutboxPublishError(
          `RabbitMQ (${this.where}) did not confirm outbox entry ${message.id} (${label(message)}) within ${this.publishTimeoutMs} ms; ` +
            'it may still arrive (consumers dedupe on the message id). The connection is replaced on the next publish.',
          { entryId: message.id },
        );
        reject(error);
        // A broker that stops confirming (a resource alarm, a half-open connection) gets a fresh start.
        this.lose(session, error);
      }, this.publishTimeoutMs);
      let writable: boolean;
      try {
        writable = session.channel.publish(this.options.exchange, routingKey, content, properties, (error: unknown) => {
          clearTimeout(timer);
          if (error === null || error === undefined) resolve();
          else reject(this.confirmError(message, error, session));
        });
      } catch (error) {
        clearTimeout(timer);
        reject(session.lost ? this.lostError(message, session.lost) : new OutboxPublishError(`Outbox entry ${message.id} (${label(message)}) could not be sent to RabbitMQ: ${messageOf(error)}.`, { cause: error, entryId: message.id }));
        return;
      }
      if (!writable) session.waitForDrain();
    });
  }

  private confirmError(message: OutboxMessage, error: unknown, session: AmqpSession): OutboxPublishError | PublisherUnavailableError {
    if (session.lost) return this.lostError(message, session.lost);
    if (messageOf(error) === 'message nacked') {
      return new OutboxPublishError(
        `RabbitMQ (${this.where}) refused outbox entry ${message.id} (${label(message)}) with a nack: a queue may be full ` +
          '(x-overflow: reject-publish) or the broker could not store it. The relay retries it.',
        { cause: error, entryId: message.id },
      );
    }
    return new OutboxPublishError(`RabbitMQ (${this.where}) did not confirm outbox entry ${message.id} (${label(message)}): ${messageOf(error)}.`, {
      cause: error,
      entryId: message.id,
    });
  }

  private lostError(message: OutboxMessage, reason: Error): PublisherUnavailableError {
    return new PublisherUnavailableError(
      `Outbox entry ${message.id} (${label(message)}) was not confirmed: the RabbitMQ connection or channel (${this.where}) ended during the batch (${reason.message}). ` +
        'It may have arrived anyway; the relay retries it.',
      { cause: reason },
    );
  }

  private async currentSession(): Promise<AmqpSession> {
    if (this.session && !this.session.lost) return this.session;
    const wait = this.reconnectNotBefore - Date.now();
    if (wait > 0) await this.pause(wait);
    if (this.closed) throw new OutboxPublishError(`RabbitMqOutboxPublisher (${this.where}) was closed; nothing was published.`);
    try {
      const session = await this.openSession();
      this.session = session;
      this.failures = 0;
      this.reconnectNotBefore = 0;
      return session;
    } catch (error) {
      this.noteFailure();
      if (error instanceof ConfigurationError) throw error;
      throw new PublisherUnavailableError(`Could not connect to RabbitMQ (${this.where}): ${messageOf(error)}. Nothing was published; the relay retries the batch.`, {
        cause: error,
      });
    }
  }

  private async openSession(): Promise<AmqpSession> {
    const connecting = amqp.connect(this.options.url, {
      timeout: this.connectTimeoutMs,
      clientProperties: { connection_name: `chronicle-outbox ${this.options.exchange}` },
    });
    let connection: ChannelModel;
    try {
      connection = await withTimeout(connecting, this.connectTimeoutMs, 'connecting');
    } catch (error) {
      // A connection that opens after we gave up would stay open, unused.
      connecting.then((late) => late.close().catch(() => undefined), () => undefined);
      throw error;
    }
    const session = new AmqpSession(connection);
    // Without an 'error' listener, an EventEmitter error kills the process.
    connection.on('error', (error: Error) => this.lose(session, error));
    connection.on('close', (error?: Error) => this.lose(session, error ?? new Error('connection closed')));
    connection.on('blocked', (reason: string) => this.logger.warn(`RabbitMQ (${this.where}) blocked the connection: ${reason}. Publishes wait.`));
    connection.on('unblocked', () => this.logger.log(`RabbitMQ (${this.where}) unblocked the connection.`));
    try {
      const channel = await withTimeout(connection.createConfirmChannel(), this.connectTimeoutMs, 'opening a confirm channel');
      session.channel = channel;
      channel.on('error', (error: Error) => this.lose(session, error));
      channel.on('close', () => this.lose(session, new Error('channel closed')));
      await withTimeout(channel.assertExchange(this.options.exchange, this.exchangeType, { durable: true }), this.connectTimeoutMs, 'asserting the exchange');
    } catch (error) {
      this.lose(session, error instanceof Error ? error : new Error(String(error)));
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'number' && SETUP_REPLY_CODES.has(code)) {
        throw new ConfigurationError(
          `RabbitMQ refused the durable ${this.exchangeType} exchange "${this.options.exchange}" (${messageOf(error)}): ` +
            'an exchange of that name exists with other settings, or the user lacks permission. Fix the exchange or the options.',
          { cause: error },
        );
      }
      throw error;
    }
    this.logger.log(`Connected to RabbitMQ (${this.where}, ${this.exchangeType}).`);
    return session;
  }

  /** Ends a session: its in-flight confirms fail, and the next publish reconnects. */
  private lose(session: AmqpSession, reason: Error): void {
    if (!session.end(reason)) return;
    if (this.session === session) {
      this.session = undefined;
      this.noteFailure();
      if (!this.closed) this.logger.warn(`Lost the RabbitMQ connection (${this.where}): ${reason.message.replace(/\.$/, '')}; the next publish reconnects.`);
    }
    // Closing the connection closes its channel too; closing twice only rejects, and that is ignored.
    session.connection.close().catch(() => undefined);
  }

  private noteFailure(): void {
    this.failures++;
    const delay = Math.min(FIRST_RECONNECT_DELAY_MS * 2 ** (this.failures - 1), MAX_RECONNECT_DELAY_MS);
    // Jitter, so that instances that lost the broker together do not reconnect in lockstep.
    this.reconnectNotBefore = Date.now() + Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.interruptPause = done;
    }).finally(() => (this.interruptPause = undefined));
  }
}

/** The batch split into per-aggregate runs, each in batch order. */
function runsByStream(batch: readonly OutboxMessage[]): OutboxMessage[][] {
  const runs = new Map<string, OutboxMessage[]>();
  for (const message of batch) {
    const run = runs.get(message.streamId);
    if (run) run.push(message);
    else runs.set(message.streamId, [message]);
  }
  return [...runs.values()];
}

function publishProperties(message: OutboxMessage): Options.Publish {
  const { correlationId, causationId, commandId } = message.metadata;
  const headers: Record<string, string | number> = {
    'x-aggregate-type': message.aggregateType,
    'x-aggregate-id': message.aggregateId,
    'x-stream-version': message.version,
    'x-schema-version': message.schemaVersion,
    'x-event-id': message.eventId,
  };
  if (typeof causationId === 'string') headers['x-causation-id'] = causationId;
  if (typeof commandId === 'string') headers['x-command-id'] = commandId;
  // W3C trace context (the relay's publish span, else the command's stored with the event), so
  // that a consumer's span continues the trace; malformed values stay out of the headers.
  Object.assign(headers, outboxTraceHeaders(message));
  const properties: Options.Publish = {
    persistent: true,
    contentType: 'application/json',
    messageId: message.id,
    type: message.eventType,
    // AMQP timestamps are POSIX seconds; the body's occurredAt keeps the milliseconds.
    timestamp: Math.floor(message.occurredAt.getTime() / 1000),
    headers,
  };
  // An over-long correlation id cannot be a property (a short string); rather than failing the
  // message forever, it travels only in the body's metadata.
  if (typeof correlationId === 'string' && Buffer.byteLength(correlationId) <= SHORT_STRING_BYTES) properties.correlationId = correlationId;
  return properties;
}

function label(message: OutboxMessage): string {
  return `${message.eventType} v${message.version} of ${message.aggregateType}/${message.aggregateId}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(`RabbitMqOutboxPublisher: ${name} must be a positive number of milliseconds, got ${String(value)}.`);
  }
  return value;
}

/** The URL without its password, for logs and errors. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured AMQP URL';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OutboxPublishError(`Timed out after ${ms} ms ${what}.`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
