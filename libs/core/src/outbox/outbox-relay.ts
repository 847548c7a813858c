import { newLeaseOwnerId } from '../ports/lease-owner.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { PublisherUnavailableError } from '../errors/publisher-unavailable.error.js';
import type { EventSerializer } from '../events/event-serializer.js';
import type { JsonObject } from '../events/json.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { consoleLogger, type ChronicleLogger } from '../logging/chronicle-logger.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import type { JournalFeed } from '../ports/journal.port.js';
import type { OutboxEntry, OutboxRelayStore } from '../ports/outbox-store.port.js';
import { backoffDelay, resolveOutboxHandlerSettings, type OutboxHandlerSettings, type ResolvedOutboxHandlerSettings } from './outbox-handler-options.js';
import type { OutboxMessage } from './outbox-message.js';
import type { OutboxPublisher } from './outbox-publisher.js';
import { ChronicleTelemetry, type TelemetrySpan } from '../telemetry/chronicle-telemetry.js';
import { logContext } from '../telemetry/log-context.js';

/** A handler the relay serves: its settings and its publisher. */
export interface RelayedHandler {
  settings: OutboxHandlerSettings;
  publisher: OutboxPublisher;
}

/** Relay-wide settings. */
export interface OutboxRelayOptions {
  /** Identifies this relay in leases. @default newLeaseOwnerId() (host:pid:uuid8) */
  owner?: string;
  /** How long a claim holds; extended while a slow publish runs. @default 30000 */
  leaseMs?: number;
  /** Events read per backfill page. @default 500 */
  backfillPageSize?: number;
}

/**
 * The outbox relay's defaults, the one place they are written: the relay's own (`leaseMs`,
 * `backfillPageSize`), and the schedule of whatever drives it (the Nest module today): how often
 * each handler is polled when no wake-up arrives, how long published entries are kept, and how
 * often the older ones are pruned.
 */
export const OUTBOX_RELAY_DEFAULTS = {
  leaseMs: 30_000,
  backfillPageSize: 500,
  pollIntervalMs: 1_000,
  /** 7 days. */
  retentionMs: 604_800_000,
  /** 1 hour. */
  pruneIntervalMs: 3_600_000,
} as const;

/** What one batch did. */
export interface RelayBatchResult {
  claimed: number;
  published: number;
  failed: number;
  deadLettered: number;
  /** Given back unattempted (behind a failure of their aggregate, or at shutdown). */
  released: number;
}

const EMPTY: RelayBatchResult = { claimed: 0, published: 0, failed: 0, deadLettered: 0, released: 0 };

interface HandlerRuntime {
  settings: ResolvedOutboxHandlerSettings;
  publisher: OutboxPublisher;
  running?: Promise<RelayBatchResult>;
  ready: boolean;
  /** While the destination is unreachable: no claims before this time (epoch ms). */
  pausedUntil: number;
  /** Consecutive batches that found the destination unreachable. */
  outages: number;
}

/**
 * Moves outbox entries to their publishers: claims a batch under a fenced lease, decodes it
 * (an entry that cannot be decoded is dead-lettered at once, never skipped), publishes it while
 * extending the lease, then settles each entry — published, retried later with backoff, or
 * dead-lettered after `maxAttempts`. Per aggregate, a failure holds back the later entries of
 * the batch (they count as not attempted), so order holds with any number of relays.
 *
 * One batch at a time per handler in this process (single-flight); the scheduling (timers,
 * NOTIFY wake-ups) belongs to the caller.
 */
export class OutboxRelay {
  readonly owner: string;
  private readonly leaseMs: number;
  private readonly backfillPageSize: number;
  private readonly handlers = new Map<string, HandlerRuntime>();
  private readonly clock: Clock;
  private readonly logger: ChronicleLogger;
  private readonly telemetry: ChronicleTelemetry;
  private stopped = false;

  constructor(
    private readonly deps: {
      store: OutboxRelayStore;
      journal: JournalFeed;
      serializer: EventSerializer;
      clock?: Clock;
      logger?: ChronicleLogger;
      /** PRODUCER spans per message and `chronicle.outbox.publish.duration`. @default off */
      telemetry?: ChronicleTelemetry;
    },
    handlers: readonly RelayedHandler[],
    options: OutboxRelayOptions = {},
  ) {
    this.owner = options.owner ?? newLeaseOwnerId();
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger(OutboxRelay.name);
    this.telemetry = deps.telemetry ?? new ChronicleTelemetry();
    this.leaseMs = options.leaseMs ?? OUTBOX_RELAY_DEFAULTS.leaseMs;
    this.backfillPageSize = options.backfillPageSize ?? OUTBOX_RELAY_DEFAULTS.backfillPageSize;
    for (const handler of handlers) {
      const settings = resolveOutboxHandlerSettings(handler.settings);
      if (this.handlers.has(settings.name)) {
        throw new ConfigurationError(`Outbox handler name "${settings.name}" is used twice; handler names must be unique.`);
      }
      this.handlers.set(settings.name, { settings, publisher: handler.publisher, ready: false, pausedUntil: 0, outages: 0 });
    }
  }


  /** The handler names this relay serves. */
  handlerNames(): string[] {
    return [...this.handlers.keys()];
  }

  /** Registers the handlers with the store: the unit of work writes their entries from now on. */
  async subscribe(): Promise<void> {
    await this.deps.store.subscribe(
      [...this.handlers.values()].map(({ settings }) => ({ handler: settings.name, events: settings.events, startFrom: settings.startFrom })),
    );
  }

  /**
   * Runs the backfill of every `startFrom: 'beginning'` handler that has not finished it, in
   * journal order. Commands are not blocked meanwhile (run it in the background); a handler is
   * relayed once its backfill is done, so its aggregates' entries still go out in version order.
   */
  async backfill(): Promise<void> {
    for (const runtime of this.handlers.values()) await this.backfillHandler(runtime);
  }

  /** Whether a handler is relayed (its backfill, if any, is done). */
  isReady(handler: string): boolean {
    return this.handlers.get(handler)?.ready ?? false;
  }

  /** Runs one batch of a handler; a call while one runs gets the running one. */
  runOnce(handler: string): Promise<RelayBatchResult> {
    const runtime = this.handlers.get(handler);
    if (!runtime) return Promise.reject(new ConfigurationError(`No outbox handler named "${handler}" in this relay.`));
    runtime.running ??= this.batch(runtime).finally(() => {
      runtime.running = undefined;
    });
    return runtime.running;
  }

  /** Runs batches of a handler until one comes back short; returns how many entries were claimed. */
  async drain(handler: string): Promise<number> {
    let total = 0;
    const batchSize = this.handlers.get(handler)?.settings.batchSize ?? 0;
    for (;;) {
      if (this.stopped) return total;
      const result = await this.runOnce(handler);
      total += result.claimed;
      if (result.claimed < batchSize) return total;
    }
  }

  /** Deletes published entries older than the retention; returns how many. */
  prune(retentionMs: number): Promise<number> {
    return this.deps.store.prunePublished(new Date(this.clock.now().getTime() - retentionMs));
  }

  /** Stops taking batches, waits for the ones in flight, and gives back every lease it holds. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.handlers.values()].map((runtime) => runtime.running));
    for (const name of this.handlers.keys()) {
      try {
        await this.deps.store.release(name, this.owner);
      } catch (error) {
        this.logger.warn(`Releasing the leases of outbox handler "${name}" failed: ${(error as Error).message}`);
      }
    }
  }

  private async backfillHandler(runtime: HandlerRuntime): Promise<void> {
    const { store, journal } = this.deps;
    const name = runtime.settings.name;
    let state = await store.handlerState(name);
    if (state?.readyAt) {
      runtime.ready = true;
      return;
    }
    let cursor = state?.backfillCursor ?? null;
    let enqueued = 0;
    for (;;) {
      if (this.stopped) return;
      const page = await journal.readAll(cursor, this.backfillPageSize);
      const matching = page.events.filter((event) => this.matches(runtime, event));
      const done = page.events.length < this.backfillPageSize;
      enqueued += await store.backfill(name, matching, page.next, done);
      cursor = page.next;
      if (done) break;
    }
    state = await store.handlerState(name);
    runtime.ready = state?.readyAt !== undefined;
    if (enqueued > 0) this.logger.log(`Outbox handler "${name}" backfilled ${enqueued} entries from the journal.`);
  }

  private matches(runtime: HandlerRuntime, event: RecordedEvent): boolean {
    const { events } = runtime.settings;
    return events === '*' || events.includes(event.type);
  }

  private async batch(runtime: HandlerRuntime): Promise<RelayBatchResult> {
    if (this.stopped || !runtime.ready || this.clock.now().getTime() < runtime.pausedUntil) return EMPTY;
    const { store } = this.deps;
    const { settings, publisher } = runtime;
    const entries = await store.claim(settings.name, this.owner, { limit: settings.batchSize, leaseMs: this.leaseMs });
    if (entries.length === 0) return EMPTY;
    const result: RelayBatchResult = { ...EMPTY, claimed: entries.length };

    // Decode first: a poison entry is parked at once and holds back its aggregate's later entries.
    const messages: OutboxMessage[] = [];
    const heldBack: string[] = [];
    const poisoned = new Set<string>();
    for (const entry of entries) {
      if (poisoned.has(entry.streamId)) {
        heldBack.push(entry.id);
        continue;
      }
      try {
        messages.push(this.toMessage(entry));
      } catch (error) {
        poisoned.add(entry.streamId);
        if (await store.deadLetter(settings.name, this.owner, entry.id, `Cannot be decoded: ${(error as Error).message}`)) result.deadLettered++;
      }
    }

    let failures = new Map<string, unknown>();
    if (messages.length > 0) {
      const keepAlive = setInterval(() => {
        void store.extendLease(settings.name, this.owner, messages.map((m) => m.id), this.leaseMs).catch((error: unknown) => {
          this.logger.warn(`Extending the outbox lease of "${settings.name}" failed: ${(error as Error).message}`);
        });
      }, Math.max(1, Math.floor(this.leaseMs / 3)));
      const spans = this.telemetry.enabled ? this.startPublishSpans(settings.name, messages) : undefined;
      const startedAt = spans ? performance.now() : 0;
      try {
        const report = await publisher.publish(messages);
        failures = new Map((report?.failed ?? []).map((failure) => [failure.id, failure.error]));
      } catch (error) {
        failures = new Map(messages.map((message) => [message.id, error]));
      } finally {
        clearInterval(keepAlive);
      }
      if (spans) {
        this.telemetry.recordPublish(settings.name, startedAt);
        messages.forEach((message, index) => this.telemetry.endSpan(spans[index]!, failures.get(message.id)));
      }
    }

    // Settle per aggregate in order: the first failure counts, what follows was not attempted.
    // An unreachable destination counts for nothing: the handler pauses instead.
    const published: string[] = [];
    const failedStreams = new Set<string>();
    let unreachable: unknown;
    for (const message of messages) {
      if (failedStreams.has(message.streamId)) {
        heldBack.push(message.id);
        continue;
      }
      if (!failures.has(message.id)) {
        published.push(message.id);
        continue;
      }
      failedStreams.add(message.streamId);
      const failure = failures.get(message.id);
      if (failure instanceof PublisherUnavailableError) {
        unreachable = failure;
        heldBack.push(message.id);
        continue;
      }
      const reason = describe(failure);
      const attempts = message.attempts + 1;
      if (attempts >= settings.maxAttempts) {
        if (await store.deadLetter(settings.name, this.owner, message.id, `Failed ${attempts} times; last: ${reason}`)) result.deadLettered++;
        this.logger.warn(`Outbox entry ${message.id} (${message.eventType}, ${message.streamId}@${message.version}) for "${settings.name}"${logContext(message.metadata)} dead-lettered after ${attempts} attempts: ${reason}`);
      } else {
        const retryAt = new Date(this.clock.now().getTime() + backoffDelay(settings.backoff, attempts));
        if (await store.markFailed(settings.name, this.owner, message.id, reason, retryAt)) result.failed++;
      }
    }
    if (published.length > 0) result.published = await store.markPublished(settings.name, this.owner, published);
    if (heldBack.length > 0) result.released = await store.release(settings.name, this.owner, heldBack);
    if (unreachable === undefined) {
      runtime.outages = 0;
    } else {
      runtime.outages++;
      const pauseMs = backoffDelay(settings.backoff, runtime.outages);
      runtime.pausedUntil = this.clock.now().getTime() + pauseMs;
      this.logger.warn(`Outbox handler "${settings.name}" cannot reach its destination (${describe(unreachable)}); retrying in ${pauseMs} ms.`);
    }
    return result;
  }

  /** One PRODUCER span per message, each a child of its event's stored context; publishers put it in the headers. */
  private startPublishSpans(handler: string, messages: OutboxMessage[]): TelemetrySpan[] {
    return messages.map((message) => {
      const span = this.telemetry.startPublish(handler, message);
      const context = this.telemetry.traceContextOf(span);
      if (context) message.traceContext = context;
      return span;
    });
  }

  private toMessage(entry: OutboxEntry): OutboxMessage {
    let payload = entry.payload;
    if (typeof payload === 'string') payload = JSON.parse(payload) as unknown;
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      throw new Error(`the stored payload of ${entry.eventType} ${entry.streamId}@${entry.version} is not a JSON object`);
    }
    const event = this.deps.serializer.deserialize({
      eventId: entry.eventId,
      type: entry.eventType,
      schemaVersion: entry.schemaVersion,
      payload,
      metadata: entry.metadata,
      tags: [],
      occurredAt: entry.occurredAt,
      streamId: entry.streamId,
      aggregateType: entry.aggregateType,
      version: entry.version,
      position: 0,
    });
    // The claimed entry becomes the message, decoded in place: a claim hands out records the relay
    // owns, and copying them (a spread costs microseconds per entry here) buys nothing.
    const message = entry as unknown as OutboxMessage;
    message.payload = payload as JsonObject;
    message.event = event;
    return message;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 2000);
  return String(error).slice(0, 2000);
}
