import { newLeaseOwnerId } from '../ports/lease-owner.js';
import { CheckpointLeaseLostError } from '../errors/checkpoint-lease-lost.error.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { ProjectionWaitTimeoutError } from '../errors/projection-wait-timeout.error.js';
import type { EventSerializer } from '../events/event-serializer.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import { consoleLogger, type ChronicleLogger } from '../logging/chronicle-logger.js';
import type { CheckpointAdvance, CheckpointStore, ParkedEvent } from '../ports/checkpoint-store.port.js';
import { systemClock, type Clock } from '../ports/clock.port.js';
import type { FeedCursor, FeedPage, JournalFeed, JournalStreams } from '../ports/journal.port.js';
import type { SubscriptionDelivery, SubscriptionHandler, TransactionalWork } from './subscription-handler.js';
import { ChronicleTelemetry, type TelemetrySpan } from '../telemetry/chronicle-telemetry.js';
import { logContext } from '../telemetry/log-context.js';
import { resolveSubscriptionOptions, type ResolvedSubscriptionOptions, type SubscriptionOptions } from './subscription-options.js';

/** What one step of a runner did. */
export interface SubscriptionStepResult {
  /** This runner holds the lease (a standby does nothing). */
  active: boolean;
  /** Events delivered and passed. */
  handled: number;
  /** Events set aside (failed or held behind a failed one). */
  parked: number;
  /** The feed had nothing more to read. */
  caughtUp: boolean;
}

/** A subscription's state as this runner and the store know it. */
export interface SubscriptionStatus {
  name: string;
  /** This runner holds the lease. */
  active: boolean;
  /** The runner holding the lease, wherever it runs. */
  leaseOwner: string | null;
  position: FeedCursor | null;
  /** The last read found the end of the feed (only known by the active runner). */
  caughtUp: boolean;
  /** Age of the last event passed while still behind; 0 when caught up. */
  lagMs: number;
  /** Parked events (failed and held), at most 1000 counted. */
  parked: number;
  lastError: string | null;
}

/** Progress of a rebuild, reported after each page. */
export interface RebuildProgress {
  /** Events read from the feed so far. */
  read: number;
  /** Events delivered to the handler so far. */
  handled: number;
  parked: number;
  position: FeedCursor | null;
}

/**
 * One event in a partitioned runner's pipeline, in feed order, from its read until its step
 * commits: a delivery (with `event` and `partition`), an event parked at once (`park`), or the
 * end of a page (neither: it carries the page's next cursor past unwanted events).
 */
interface PipelineSlot<Tx> {
  envelope: RecordedEvent;
  /** The checkpoint once this slot and everything before it passed. */
  to: FeedCursor;
  state: 'waiting' | 'running' | 'done' | 'failed';
  event?: object;
  partition?: string;
  work?: TransactionalWork<Tx> | void;
  park?: ParkedEvent;
  error?: string;
}

/** Thrown inside the runner when a stop interrupts a backoff: leaves without parking anything. */
class Stopped extends Error {}

/** A failure of the handler itself (as opposed to the store): counts as an attempt. */
class HandlerFailure extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}

function describe(error: unknown): string {
  const original = error instanceof HandlerFailure ? error.original : error;
  return original instanceof Error ? `${original.name}: ${original.message}` : String(original);
}

const REDRIVE_CHECK_MS = 1_000;
/**
 * Events passed with nothing to write (no transactional work, nothing parked) after which the
 * checkpoint is stored anyway, while the runner is still behind: a catch-up through events the
 * handler ignores writes its checkpoint once per this many events instead of once per page.
 */
const CHECKPOINT_DEFER_EVENTS = 10_000;

/**
 * Makes a delivery: a plain object (prototype `Object.prototype`, as a literal's), made with `new`
 * instead of a literal on purpose. V8 tracks an object literal's allocation site, and when the
 * objects made there survive a young-generation collection (a chunk's deliveries are alive while
 * it is handled), it allocates every later one in the old generation, promoting the events they
 * point to with them: a catch-up then pays full collections for what should die young. Objects
 * made with `new` have no allocation site.
 */
const PlainDelivery = function (this: SubscriptionDelivery, envelope: RecordedEvent, event: object): void {
  this.envelope = envelope;
  this.event = event;
} as unknown as new (envelope: RecordedEvent, event: object) => SubscriptionDelivery;
(PlainDelivery as { prototype: object }).prototype = Object.prototype;
const PARKED_COUNT_LIMIT = 1_000;
/** Shortest wait before a renewal is retried after a failed one. */
const RENEWAL_RETRY_MIN_MS = 10;

/**
 * Delivers the global feed to one handler from a stored checkpoint, exactly where it left off.
 *
 * - One active runner per subscription across processes: a lease on the checkpoint row, taken
 *   over when it expires; every step is fenced by owner and position, so a runner that lost the
 *   lease cannot move the checkpoint (its step rolls back with `CheckpointLeaseLostError`).
 * - The lease holds through long work: while a step runs, a timer renews it at half-life (a
 *   handler slower than the lease does not hand the subscription to a standby mid-chunk), and
 *   before each handler call the runner renews it if it is due and checks it still holds it. A
 *   renewal that finds the lease taken fences the step off: no further handler call, the chunk is
 *   dropped, the checkpoint stays. Nothing waits for a renewal inside a checkpoint transaction, so
 *   a renewal queued behind that transaction (the row lock on PostgreSQL, the write lock on
 *   SQLite) cannot deadlock it.
 * - Batches: events are read a page at a time and handled `commitEvery` per transaction; the
 *   handler's transactional work commits with the checkpoint (exactly once). A partitioned
 *   handler (`partitionKey`, `concurrency` > 1: a saga) runs as a pipeline instead: see
 *   `pipelinedStep`.
 * - Failures: a batch that fails is redone one event at a time; an event that keeps failing is
 *   retried with backoff, then parked with its error, and later events of its stream are parked
 *   behind it (held) so the stream's order holds; other streams keep flowing. An event that cannot
 *   be decoded is parked at once. Parked events are re-driven on request.
 *
 * Single-flight: `wake()` runs one drain at a time; the scheduling (timers, NOTIFY) is the caller's.
 */
export class SubscriptionRunner<Tx = unknown> {
  readonly name: string;
  readonly owner: string;
  private readonly options: ResolvedSubscriptionOptions;
  private readonly clock: Clock;
  private readonly logger: ChronicleLogger;
  private position: FeedCursor | null = null;
  private active = false;
  private leaseUntil = 0;
  /** Stream id → the parked event its later events wait behind. */
  private held = new Map<string, string>();
  private lastError: string | null = null;
  private caughtUp = false;
  private lastEventAt: Date | null = null;
  /** Global position of the last event this runner passed (handled, skipped or parked); undefined before the first. */
  private passedPosition: number | undefined;
  private readonly telemetry: ChronicleTelemetry;
  /** CONSUMER spans kept open over transactional work not run yet (see `spanOver`). */
  private readonly openSpans = new Set<TelemetrySpan>();
  private lastRedriveCheck = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  /** Aborted when a renewal finds the lease taken: ends backoff waits and stops handler calls. */
  private fence = new AbortController();
  /** The renewal in flight, shared by the timer and the checks before handler calls. */
  private renewing: Promise<void> | undefined;
  /** The renewal timer of the step in progress. */
  private keepAlive: ReturnType<typeof setTimeout> | undefined;
  /** Set while a pipelined step runs: a wake-up reads the feed again without waiting for the step's end. */
  private wakeInFlight: (() => void) | undefined;
  /**
   * The next page, read while the current one is handled and committed (a full page means more
   * may follow): the read overlaps the handlers and the checkpoint's commit. Used only by the
   * next step, and only if it starts from the cursor it was read after.
   */
  private readAhead: { after: FeedCursor; page: Promise<FeedPage> } | undefined;
  /**
   * Pages passed with nothing to write whose checkpoint move is deferred: the next page is read
   * from `to`; the stored position (`position`, the fence of the next step) stays behind until a
   * step writes, the runner catches up, `CHECKPOINT_DEFER_EVENTS` pile up, or it stops.
   */
  private deferred: { to: FeedCursor; events: number } | undefined;

  constructor(
    private readonly deps: {
      /** The feed, and one stream's event to re-drive a parked one. */
      journal: JournalFeed<Tx> & Pick<JournalStreams<Tx>, 'readStream'>;
      store: CheckpointStore<Tx>;
      serializer: EventSerializer;
      clock?: Clock;
      logger?: ChronicleLogger;
      /** A CONSUMER span per delivered event. @default off */
      telemetry?: ChronicleTelemetry;
    },
    private readonly handler: SubscriptionHandler<Tx>,
    options: SubscriptionOptions,
  ) {
    this.options = resolveSubscriptionOptions(options);
    this.name = this.options.name;
    this.owner = options.owner ?? newLeaseOwnerId();
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? consoleLogger(`Subscription ${this.name}`);
    this.telemetry = deps.telemetry ?? new ChronicleTelemetry();
  }

  /**
   * How far this runner is behind `head` (the journal's head position), in global positions
   * (positions skipped by rolled-back transactions count too); 0 for a standby runner, which
   * leaves the measure to the lease holder.
   */
  lagBehind(head: number): number {
    if (!this.active || this.passedPosition === undefined) return 0;
    return Math.max(0, head - this.passedPosition);
  }

  /** Age of the last event passed while still behind; 0 when caught up or standing by. */
  get lagMs(): number {
    return this.active && !this.caughtUp && this.lastEventAt ? Math.max(0, this.clock.now().getTime() - this.lastEventAt.getTime()) : 0;
  }

  /** This runner holds the lease. */
  get isActive(): boolean {
    return this.active;
  }

  /** The position this runner has reached (meaningful while it is active). */
  get currentPosition(): FeedCursor | null {
    return this.position;
  }

  /**
   * Drains the feed now, or once more after the drain in progress (single-flight). Errors are
   * logged and recorded on the checkpoint, never thrown: the next wake-up or poll tries again.
   */
  wake(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      // A partitioned runner reads on while its handlers run: tell it there is more to read.
      this.wakeInFlight?.();
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.drain();
        } catch (error) {
          if (error instanceof Stopped) break;
          const message = describe(error);
          this.logger.error(`Subscription "${this.name}" failed a step: ${message}`, error instanceof Error ? error.stack : undefined);
          this.lastError = message;
          if (this.active) await this.deps.store.recordError(this.name, this.owner, message).catch(() => undefined);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Told of a local commit's events (the runtime calls it after every commit, beside its wake-up):
   * when a pipelined step (a saga's) is in progress and its handler takes one of them, the step
   * reads the feed again now, while its handlers run, instead of once it is over. A runtime's
   * wake-ups reach `wake` only between steps (its jobs are single-flight), so without this a
   * transfer requested during a step waited for every transfer of that step. Commits of nothing the
   * handler takes (a saga's own commands, mostly) do not read again mid-step: each read costs a
   * feed query, and they are passed by the next step. Does nothing otherwise; never starts a step.
   */
  wakeFor(events: readonly RecordedEvent[]): void {
    if (this.wakeInFlight === undefined || this.stopped) return;
    for (const envelope of events) {
      if (this.wants(envelope)) {
        this.wakeInFlight();
        return;
      }
    }
  }

  /** Steps until the feed is drained, the lease is someone else's, or the runner stops. */
  async drain(): Promise<void> {
    for (;;) {
      const step = await this.runOnce();
      if (!step.active || step.caughtUp || this.stopped) return;
    }
  }

  /** One step: take or renew the lease, re-drive what was asked for, handle one page. */
  async runOnce(): Promise<SubscriptionStepResult> {
    if (this.stopped || !(await this.ensureLease())) return { active: false, handled: 0, parked: 0, caughtUp: true };
    this.fence = new AbortController();
    this.startKeepAlive();
    try {
      await this.redriveIfRequested();
      // A partitioned runner (a saga) pipelines its reads and commits instead: it reads no page
      // ahead and defers no checkpoint move across steps (see `pipelinedStep`).
      if (this.partitioned) return await this.pipelinedStep();
      const page = await this.readPage();
      if (page.events.length === this.options.batchSize && page.next !== null && !this.stopped) this.readAheadFrom(page.next);
      if (page.events.length === 0) {
        // Caught up: a deferred move is stored now.
        if (this.deferred !== undefined) await this.commit({ to: this.deferred.to, park: [] });
        this.caughtUp = true;
        return { active: true, handled: 0, parked: 0, caughtUp: true };
      }
      this.passedPosition ??= page.events[0]!.position - 1;
      const step = { active: true, handled: 0, parked: 0, caughtUp: page.events.length < this.options.batchSize };
      const chunks = this.chunksOf(page.events);
      // Still behind, the page's last chunk may defer its checkpoint move too (see `deferred`).
      const deferLast = !step.caughtUp && (this.deferred?.events ?? 0) + page.events.length < CHECKPOINT_DEFER_EVENTS;
      const storedBefore = this.position;
      for (const [index, chunk] of chunks.entries()) {
        const to = index === chunks.length - 1 ? page.next : chunk[chunk.length - 1]!.cursor;
        if (to === undefined || to === null) {
          throw new ConfigurationError(`The journal's feed returned events without cursors; subscription "${this.name}" cannot checkpoint them.`);
        }
        const done = await this.processChunk(chunk, to, index < chunks.length - 1 || deferLast);
        this.passedPosition = chunk[chunk.length - 1]!.position;
        step.handled += done.handled;
        step.parked += done.parked;
        try {
          await this.holdLease();
        } catch (error) {
          if (!(error instanceof CheckpointLeaseLostError)) throw error;
          // The chunks committed so far stand; the next holder continues after them.
          this.dropReadAhead();
          this.loseLease(String(this.fence.signal.reason ?? 'its lease was taken over'));
          return { ...step, active: false };
        }
      }
      if (page.next !== null && this.position !== page.next) {
        // The last chunk deferred its move: the next page is read after it.
        const before = this.position === storedBefore ? (this.deferred?.events ?? 0) : 0;
        this.deferred = { to: page.next, events: before + page.events.length };
      }
      this.caughtUp = step.caughtUp;
      return step;
    } catch (error) {
      this.dropReadAhead();
      if (error instanceof CheckpointLeaseLostError) {
        this.loseLease(this.fence.signal.aborted ? String(this.fence.signal.reason) : 'its checkpoint moved under it');
        return { active: false, handled: 0, parked: 0, caughtUp: true };
      }
      throw error;
    } finally {
      // The step is over: work still waiting for its transaction will never run in this one.
      if (this.openSpans.size > 0) this.endOpenSpans();
      await this.stopKeepAlive();
    }
  }

  /** Stops after the step in progress and gives the lease back. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    await this.running?.catch(() => undefined);
    this.dropReadAhead();
    if (this.active && this.deferred !== undefined) {
      // What was passed is stored, so the next holder does not deliver it again.
      await this.commit({ to: this.deferred.to, park: [] }).catch(() => undefined);
    }
    if (this.active) {
      this.active = false;
      await this.deps.store.release(this.name, this.owner).catch(() => undefined);
    }
  }

  /** Asks for the parked events of one stream (or all) to be delivered again, and wakes the runner. */
  async redrive(streamId?: string): Promise<number> {
    const count = await this.deps.store.requestRedrive(this.name, streamId);
    this.lastRedriveCheck = 0;
    void this.wake();
    return count;
  }

  /** The subscription's status, from this runner and the store. */
  async status(): Promise<SubscriptionStatus> {
    const [checkpoint, parked] = await Promise.all([
      this.deps.store.load(this.name),
      this.deps.store.parked(this.name, { limit: PARKED_COUNT_LIMIT }),
    ]);
    const leaseValid = checkpoint?.leaseUntil && checkpoint.leaseUntil.getTime() > this.clock.now().getTime();
    const lagMs = this.lagMs;
    return {
      name: this.name,
      active: this.active,
      leaseOwner: leaseValid ? (checkpoint?.leaseOwner ?? null) : null,
      position: this.active ? this.position : (checkpoint?.position ?? null),
      caughtUp: this.active ? this.caughtUp : false,
      lagMs,
      parked: parked.length,
      lastError: this.active ? this.lastError : (checkpoint?.lastError ?? null),
    };
  }

  /**
   * Resolves once the subscription (whichever runner holds it) has passed `cursor`: the
   * read-your-writes wait behind a command's position token. Throws `ProjectionWaitTimeoutError`
   * after `timeoutMs`.
   */
  async waitFor(cursor: FeedCursor, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 5;
    for (;;) {
      const position = this.active ? this.position : ((await this.deps.store.load(this.name))?.position ?? null);
      if (position !== null && this.deps.journal.compareCursors(position, cursor) >= 0) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new ProjectionWaitTimeoutError(this.name, cursor, position, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
      delay = Math.min(delay * 2, 100);
    }
  }

  /**
   * Replays the whole feed into the handler in one transaction that first resets the checkpoint
   * (see `CheckpointStore.reset`): the handler's read model must be cleared by `clear`, inside the
   * same transaction. Readers keep seeing the old model until the rebuilt one commits, caught up.
   * Only for handlers whose effects are all transactional (projections).
   */
  async rebuild(clear: (tx: Tx) => Promise<void>, onProgress?: (progress: RebuildProgress) => void): Promise<RebuildProgress> {
    const { store, journal } = this.deps;
    const progress: RebuildProgress = { read: 0, handled: 0, parked: 0, position: null };
    await store.reset(this.name, async (tx) => {
      await clear(tx);
      const park: ParkedEvent[] = [];
      const held = new Map<string, string>();
      progress.read = progress.handled = progress.parked = 0;
      let position: FeedCursor | null = null;
      for (;;) {
        const page = await journal.readAll(position, this.options.batchSize, { tx });
        progress.read += page.events.length;
        const deliverable = this.triage(page.events, held, park);
        const runOne = async ({ envelope, event }: { envelope: RecordedEvent; event: object }): Promise<void> => {
          const work = await this.handler.handle(event, envelope);
          if (work) await work(tx);
        };
        try {
          await store.nested(tx, async () => {
            if (this.batched) {
              if (deliverable.length === 0) return;
              const work = await this.handler.handleBatch!(deliverable);
              if (work) await work(tx);
              return;
            }
            for (const item of deliverable) await runOne(item);
          });
          progress.handled += deliverable.length;
        } catch {
          // Redo the page one event at a time, each under its own savepoint, to find the culprits.
          for (const item of deliverable) {
            const behind = held.get(item.envelope.streamId);
            if (behind !== undefined) {
              park.push(this.parkRecord(item.envelope, 'held', `waits behind parked event ${behind}`, 0));
              continue;
            }
            try {
              await store.nested(tx, () => runOne(item));
              progress.handled += 1;
            } catch (error) {
              park.push(this.parkRecord(item.envelope, 'failed', describe(error), 1));
              held.set(item.envelope.streamId, item.envelope.eventId);
            }
          }
        }
        position = page.next;
        progress.position = position;
        progress.parked = park.length;
        onProgress?.({ ...progress });
        if (page.events.length < this.options.batchSize) break;
      }
      return { position, park };
    });
    // Whoever runs the subscription reloads it: its next step fails the fencing and re-acquires.
    this.leaseUntil = 0;
    this.active = false;
    return progress;
  }

  /**
   * Cuts a page into the units of one transaction: at most `commitEvery` events and, for a handler
   * with partitions, never two events of one partition (the second must see what the first saved).
   */
  private chunksOf(events: RecordedEvent[]): RecordedEvent[][] {
    const chunks: RecordedEvent[][] = [];
    let chunk: RecordedEvent[] = [];
    let keys = new Set<string>();
    for (const envelope of events) {
      const key = this.partitioned && this.wants(envelope) ? this.partitionOf(envelope) : undefined;
      if (chunk.length >= this.options.commitEvery || (key !== undefined && keys.has(key))) {
        chunks.push(chunk);
        chunk = [];
        keys = new Set();
      }
      chunk.push(envelope);
      if (key !== undefined) keys.add(key);
    }
    if (chunk.length > 0) chunks.push(chunk);
    return chunks;
  }

  /** The handler takes a chunk at once (and is not partitioned). */
  private get batched(): boolean {
    return typeof this.handler.handleBatch === 'function' && !this.partitioned;
  }

  private get partitioned(): boolean {
    return this.options.concurrency > 1 && typeof this.handler.partitionKey === 'function';
  }

  /** The event's partition; an event that cannot be decoded is its own. */
  private partitionOf(envelope: RecordedEvent): string {
    try {
      return this.handler.partitionKey!(this.deps.serializer.deserialize(envelope), envelope) ?? `event:${envelope.eventId}`;
    } catch {
      return `event:${envelope.eventId}`;
    }
  }

  /**
   * The events of a batch the handler wants, decoded; the others stay behind: an event of a held
   * stream is parked behind its stream's parked event, one that cannot be decoded is parked at once
   * (and holds its stream). `held` and `park` are updated in place.
   */
  private triage(events: RecordedEvent[], held: Map<string, string>, park: ParkedEvent[]): SubscriptionDelivery[] {
    const deliveries: SubscriptionDelivery[] = [];
    for (const envelope of events) {
      if (!this.wants(envelope)) continue;
      const behind = held.get(envelope.streamId);
      if (behind !== undefined) {
        park.push(this.parkRecord(envelope, 'held', `waits behind parked event ${behind}`, 0));
        continue;
      }
      try {
        deliveries.push(new PlainDelivery(envelope, this.deps.serializer.deserialize(envelope)));
      } catch (error) {
        park.push(this.parkRecord(envelope, 'failed', describe(error), 1));
        held.set(envelope.streamId, envelope.eventId);
      }
    }
    return deliveries;
  }

  private wants(envelope: RecordedEvent): boolean {
    return this.handler.types === '*' || this.handler.types.has(envelope.type);
  }

  private async ensureLease(): Promise<boolean> {
    const now = this.clock.now().getTime();
    if (this.active && this.leaseUntil - now > this.options.leaseMs / 2) return true;
    const checkpoint = await this.deps.store.acquire(this.name, this.owner, this.options.leaseMs);
    if (!checkpoint) {
      if (this.active) this.loseLease('another runner holds its lease');
      return false;
    }
    if (!this.active) {
      const parked = await this.deps.store.parked(this.name);
      this.held = new Map();
      for (const event of parked) if (!this.held.has(event.streamId)) this.held.set(event.streamId, event.eventId);
      this.lastError = checkpoint.lastError;
      this.caughtUp = false;
      this.logger.log(`Subscription "${this.name}" runs here (${this.owner}) from ${checkpoint.position ?? 'the start'}.`);
    }
    this.position = checkpoint.position;
    if (!this.active) {
      this.passedPosition = undefined;
      this.deferred = undefined;
    }
    this.active = true;
    this.leaseUntil = checkpoint.leaseUntil?.getTime() ?? 0;
    return true;
  }

  private loseLease(reason: string): void {
    if (this.active) this.logger.warn(`Subscription "${this.name}" stopped here (${this.owner}): ${reason}.`);
    this.active = false;
    this.deferred = undefined;
    this.leaseUntil = 0;
  }

  /** When the lease is due for renewal: at half-life. */
  private get renewAt(): number {
    return this.leaseUntil - this.options.leaseMs / 2;
  }

  /**
   * Renews the lease (one renewal at a time; callers share the one in flight). Not held any more:
   * the step is fenced off. A store failure leaves the lease as it was; the next check retries,
   * and once the lease has run out unrenewed the step stops, because another runner may hold it.
   */
  private renewLease(): Promise<void> {
    this.renewing ??= (async () => {
      try {
        const checkpoint = await this.deps.store.acquire(this.name, this.owner, this.options.leaseMs);
        // Ownership only: the position may be read before or after a commit of this runner that is
        // in flight, so it proves nothing here; the step's own fencing checks it.
        if (!checkpoint) return this.fenceOff('another runner took its lease over');
        this.leaseUntil = checkpoint.leaseUntil?.getTime() ?? 0;
      } catch (error) {
        this.logger.warn(`Subscription "${this.name}" (${this.owner}) could not renew its lease, retrying: ${describe(error)}`);
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  private fenceOff(reason: string): void {
    if (!this.fence.signal.aborted) this.fence.abort(reason);
  }

  /**
   * The check before a handler call (and between chunks), never made inside a checkpoint
   * transaction: renews the lease when it is due, and throws `CheckpointLeaseLostError` when the
   * runner cannot tell it still holds it, so a fenced-off runner stops its side effects here.
   */
  private async holdLease(): Promise<void> {
    if (!this.fence.signal.aborted && this.clock.now().getTime() >= this.renewAt) await this.renewLease();
    if (!this.fence.signal.aborted && this.clock.now().getTime() >= this.leaseUntil) this.fenceOff('its lease ran out before it could renew it');
    if (this.fence.signal.aborted || !this.active) throw new CheckpointLeaseLostError(this.name, this.owner);
  }

  /**
   * Renews the lease at half-life while a step runs, beside the handlers: a single handler call
   * slower than the lease keeps it too. The renewal is never awaited inside a transaction; on
   * SQLite it waits for the write lock like any other statement and runs when the step's
   * transaction ends.
   */
  private startKeepAlive(): void {
    const fence = this.fence;
    const schedule = (): void => {
      const due = this.renewAt - this.clock.now().getTime();
      const retry = Math.max(RENEWAL_RETRY_MIN_MS, this.options.leaseMs / 10);
      this.keepAlive = setTimeout(() => {
        void this.renewLease().then(() => {
          if (this.keepAlive !== undefined && this.fence === fence && !fence.signal.aborted) schedule();
        });
      }, Math.max(due, retry));
      this.keepAlive.unref?.();
    };
    schedule();
  }

  /** Ends the step's renewals; a renewal in flight is awaited (the step's transaction is over). */
  private async stopKeepAlive(): Promise<void> {
    clearTimeout(this.keepAlive);
    this.keepAlive = undefined;
    await this.renewing;
  }

  /**
   * The step of a partitioned handler (a saga): a pipeline instead of chunks in lockstep. Up to
   * `concurrency` events are handled at once, each starting as soon as a handler is free and no
   * earlier event of its partition is still uncommitted (so the next event of an instance sees
   * what the previous one saved); the feed is read again whenever the runner is woken, while
   * handlers run; and the handled events commit in feed order, as a prefix of everything read
   * (at most `commitEvery` deliveries per transaction), one transaction at a time, while later
   * events are being handled. A prefix with nothing to write does not commit on its own: the next
   * commit moves the checkpoint past it, or the step's last one.
   *
   * Failures keep the guarantees of the chunked step: when a handler fails, no later event
   * starts; the events before it commit; the failed event is retried and parked
   * (`deliverOne`), and the step ends so the next one reads again after it: the later events
   * that were handled meanwhile are handled again (their commands resend the same ids), their
   * transactional work having never run. When a prefix's transaction fails because of one of its
   * works, the prefix is redone one event at a time. A lost lease or a store failure drops
   * everything uncommitted.
   */
  private async pipelinedStep(): Promise<SubscriptionStepResult> {
    const step: SubscriptionStepResult = { active: true, handled: 0, parked: 0, caughtUp: false };
    const slots: Array<PipelineSlot<Tx>> = [];
    const held = new Map(this.held);
    const concurrency = this.options.concurrency;
    // A step reads for a second at most, then winds down: the next step checks the lease and the
    // re-drive requests again, which a pipeline kept busy by a steady load would otherwise starve.
    const readUntil = this.clock.now().getTime() + REDRIVE_CHECK_MS;
    // A partitioned runner never defers a move across steps (`deferred` is the chunked step's; this
    // step stores what it passed before it ends), but should one be pending, it reads on after it
    // as the chunked step does: its first commit (from the stored position, the fence) covers it.
    let readFrom = this.deferred?.to ?? this.position;
    /** The feed may hold events not read yet (a full page, or a wake-up since the last read). */
    let more = true;
    let reading = false;
    let committing = false;
    let running = 0;
    /** A store failure or a lost lease: nothing more starts, the step throws it once idle. */
    let fatal: unknown;
    /** A prefix whose transaction failed because of a work: redone one event at a time. */
    let redo: Array<PipelineSlot<Tx>> | undefined;
    /** Passed (removed from `slots`) but not committed: a prefix with nothing to write. */
    let passedTo: FeedCursor | null | undefined = this.deferred?.to;
    let tick: () => void = () => undefined;
    let poked = false;
    /** A poke arrived since the loop last looked (it may have been busy awaiting something else). */
    let signalled = false;
    /**
     * While handlers still run, a commit waits for the end of the event loop's turn (`armed`, then
     * `open`), so the handlers finishing in that turn join it; with none running it starts at once.
     */
    let commitGate: 'closed' | 'armed' | 'open' = 'closed';
    // Read through a call: the loop's own assignments would narrow a direct read to 'closed' | 'armed'.
    const gate = (): typeof commitGate => commitGate;
    // Everything that finishes pokes the loop (once per burst of pokes). Handlers that finish while
    // a commit is in flight commit together in the next one.
    const poke = (): void => {
      if (poked) return;
      poked = true;
      // A resolved promise, not queueMicrotask: fake timers (tests) fake that one too.
      void Promise.resolve().then(() => {
        poked = false;
        signalled = true;
        tick();
      });
    };
    this.wakeInFlight = () => {
      more = true;
      poke();
    };

    const start = (slot: PipelineSlot<Tx>): void => {
      slot.state = 'running';
      running += 1;
      void (async () => {
        try {
          // The fresh-lease fast path: no await before the handler call while the lease is not due.
          if (!this.leaseFresh()) await this.holdLease();
          slot.work = await this.deliver(slot.event!, slot.envelope);
          slot.state = 'done';
        } catch (error) {
          if (error instanceof CheckpointLeaseLostError) {
            fatal ??= error;
            slot.state = 'waiting';
          } else {
            slot.state = 'failed';
            slot.error = describe(error);
          }
        } finally {
          running -= 1;
          poke();
        }
      })();
    };

    const read = (): void => {
      reading = true;
      more = false;
      // This read sees every commit a wake-up so far announced.
      this.again = false;
      void (async () => {
        try {
          const page = await this.deps.journal.readAll(readFrom, this.options.batchSize);
          if (page.events.length === 0) return;
          if (page.next === undefined || page.next === null || page.events.some((envelope) => envelope.cursor === undefined || envelope.cursor === null)) {
            throw new ConfigurationError(`The journal's feed returned events without cursors; subscription "${this.name}" cannot checkpoint them.`);
          }
          this.passedPosition ??= page.events[0]!.position - 1;
          for (const envelope of page.events) {
            if (!this.wants(envelope)) continue;
            const behind = held.get(envelope.streamId);
            if (behind !== undefined) {
              slots.push({ envelope, to: envelope.cursor!, state: 'done', park: this.parkRecord(envelope, 'held', `waits behind parked event ${behind}`, 0) });
              continue;
            }
            let event: object;
            try {
              event = this.deps.serializer.deserialize(envelope);
            } catch (error) {
              slots.push({ envelope, to: envelope.cursor!, state: 'done', park: this.parkRecord(envelope, 'failed', describe(error), 1) });
              held.set(envelope.streamId, envelope.eventId);
              continue;
            }
            let partition: string;
            try {
              partition = this.handler.partitionKey!(event, envelope) ?? `event:${envelope.eventId}`;
            } catch {
              partition = `event:${envelope.eventId}`;
            }
            slots.push({ envelope, to: envelope.cursor!, state: 'waiting', event, partition });
          }
          // Past the page's last event (wanted or not): the page's own next cursor.
          slots.push({ envelope: page.events[page.events.length - 1]!, to: page.next, state: 'done' });
          readFrom = page.next;
          if (page.events.length >= this.options.batchSize) more = true;
        } catch (error) {
          fatal ??= error;
        } finally {
          reading = false;
          poke();
        }
      })();
    };

    const commitPrefix = (prefix: Array<PipelineSlot<Tx>>): void => {
      committing = true;
      const to = prefix[prefix.length - 1]!.to;
      const works = prefix.flatMap((slot) => (slot.work ? [slot.work] : []));
      const park = prefix.flatMap((slot) => (slot.park ? [slot.park] : []));
      void (async () => {
        try {
          // The checkpoint transaction starts with at least half a lease left (renewed here when due).
          await this.holdLease();
          await this.commit({ to, park }, works.length === 0 ? undefined : (tx) => this.runWorks(works, tx));
          this.passPrefix(prefix, step);
          slots.splice(0, prefix.length);
          passedTo = undefined;
        } catch (error) {
          if (error instanceof HandlerFailure) redo = prefix;
          else fatal ??= error;
        } finally {
          committing = false;
          poke();
        }
      })();
    };

    try {
      for (;;) {
        if (this.fence.signal.aborted) fatal ??= new CheckpointLeaseLostError(this.name, this.owner);
        const halted = fatal !== undefined || redo !== undefined || this.stopped;
        const firstFailed = slots.findIndex((slot) => slot.state === 'failed');
        // Start what may start: before the first failed event only, one uncommitted event per partition.
        if (!halted) {
          const limit = firstFailed === -1 ? slots.length : firstFailed;
          const busy = new Set<string>();
          for (let index = 0; index < limit && running < concurrency; index++) {
            const slot = slots[index]!;
            if (slot.partition === undefined) continue;
            if (slot.state === 'waiting' && !busy.has(slot.partition)) start(slot);
            busy.add(slot.partition);
          }
        }
        // Read on while there is room and no failure.
        const waiting = slots.reduce((count, slot) => count + (slot.state === 'waiting' ? 1 : 0), 0);
        const reads = this.clock.now().getTime() < readUntil;
        if (!halted && firstFailed === -1 && !reading && more && reads && waiting < concurrency && slots.length < this.options.batchSize) read();
        // Commit the handled prefix.
        if (!committing && fatal === undefined && redo === undefined) {
          let end = 0;
          let deliveries = 0;
          while (end < slots.length && slots[end]!.state === 'done' && deliveries < this.options.commitEvery) {
            if (slots[end]!.partition !== undefined) deliveries += 1;
            end += 1;
          }
          const prefix = slots.slice(0, end);
          if (prefix.some((slot) => slot.work || slot.park)) {
            if (running === 0 || gate() === 'open') {
              commitGate = 'closed';
              commitPrefix(prefix);
            } else if (gate() === 'closed') {
              commitGate = 'armed';
              setImmediate(() => {
                commitGate = 'open';
                poke();
              });
            }
          } else if (prefix.length > 0) {
            this.passPrefix(prefix, step);
            slots.splice(0, prefix.length);
            passedTo = prefix[prefix.length - 1]!.to;
            continue;
          }
        }
        if (running === 0 && !committing && !reading) {
          if (fatal !== undefined) throw fatal;
          if (redo !== undefined) {
            for (const slot of redo) {
              if (slot.partition === undefined && !slot.park) continue;
              const outcome = await this.deliverOne(slot.envelope);
              if (outcome === 'handled') step.handled += 1;
              if (outcome === 'parked') step.parked += 1;
            }
            const to = redo[redo.length - 1]!.to;
            if (this.position !== to) await this.commit({ to, park: [] });
            return step;
          }
          if (passedTo !== undefined && (slots.length === 0 || this.stopped)) {
            await this.commit({ to: passedTo, park: [] });
            passedTo = undefined;
          }
          const head = slots[0];
          if (head?.state === 'failed') {
            const outcome = await this.deliverOne(head.envelope, { message: head.error ?? '' });
            if (outcome === 'handled') step.handled += 1;
            if (outcome === 'parked') step.parked += 1;
            return step;
          }
          if (this.stopped) return step;
          if (slots.length === 0 && !more) {
            step.caughtUp = true;
            this.caughtUp = true;
            return step;
          }
          // The step read for its second: the next one goes on from here.
          if (slots.length === 0 && !reads) return step;
        }
        if (!signalled) {
          await new Promise<void>((resolve) => {
            tick = resolve;
          });
        }
        signalled = false;
      }
    } finally {
      this.wakeInFlight = undefined;
    }
  }

  /** The works of one transaction: the handler's `runWorks` when it has one, else each in turn. */
  private async runWorks(works: ReadonlyArray<TransactionalWork<Tx>>, tx: Tx): Promise<void> {
    if (this.handler.runWorks) return this.handler.runWorks(works, tx);
    for (const work of works) await work(tx);
  }

  /** Notes the progress of a passed prefix of the pipeline. */
  private passPrefix(prefix: Array<PipelineSlot<Tx>>, step: SubscriptionStepResult): void {
    for (const slot of prefix) {
      if (slot.park) step.parked += 1;
      else if (slot.partition !== undefined) step.handled += 1;
    }
    const last = prefix[prefix.length - 1]!.envelope;
    this.passedPosition = last.position;
    this.noteProgress([last]);
  }

  /**
   * The page after the current position: the one read ahead for it when that came back full, or
   * a fresh read. A short page read ahead may predate commits since (it was read before this step
   * began), so it is read again, as the journal rereads a short page below a remembered bound.
   */
  private async readPage(): Promise<FeedPage> {
    const ahead = this.readAhead;
    this.readAhead = undefined;
    const from = this.deferred?.to ?? this.position;
    if (ahead !== undefined && from !== null && ahead.after === from) {
      const page = await ahead.page.catch(() => undefined);
      if (page !== undefined && page.events.length === this.options.batchSize) return page;
    }
    return this.deps.journal.readAll(from, this.options.batchSize);
  }

  /**
   * Starts reading the page after `after` now, while this step handles and commits the current
   * one. Sound like any read of the feed: it returns only events the feed guarantees gap-free
   * below its bound, in feed order after `after`; the next step uses it only when it starts from
   * that very cursor (its checkpoint moved there) and the page is full.
   */
  private readAheadFrom(after: FeedCursor): void {
    const page = this.deps.journal.readAll(after, this.options.batchSize);
    // Failures surface when the next step awaits it; a dropped read must not be an unhandled rejection.
    page.catch(() => undefined);
    this.readAhead = { after, page };
  }

  private dropReadAhead(): void {
    this.readAhead = undefined;
  }

  /**
   * The lease is held and not due for renewal: the check before a handler call without an await
   * (the common case, once per event). Otherwise `holdLease` renews or fences.
   */
  private leaseFresh(): boolean {
    // Once per event: the wall clock's time without a Date for it (a test's clock is asked as usual).
    const now = this.clock === systemClock ? Date.now() : this.clock.now().getTime();
    return this.active && !this.fence.signal.aborted && now < this.renewAt;
  }

  /** Handles a chunk in one transaction; on failure, one event at a time. */
  /**
   * `deferrable`: a chunk with nothing to write (no transactional work, nothing parked) that is not
   * the page's last leaves the checkpoint where it is; the next chunk's step moves it past both.
   */
  private async processChunk(events: RecordedEvent[], to: FeedCursor, deferrable: boolean): Promise<{ handled: number; parked: number }> {
    const works: TransactionalWork<Tx>[] = [];
    const park: ParkedEvent[] = [];
    const held = new Map(this.held);
    let handled = 0;
    let failed = false;
    /** The event whose handler failed in this pass: that failure counts as its first attempt. */
    let failedEvent: { eventId: string; message: string } | undefined;
    const deliveries = this.triage(events, held, park);
    if (this.batched && deliveries.length > 0) return this.processBatch(events, to, deliveries, park, deferrable);
    // Partitioned handlers (sagas) handle the chunk's events concurrently: the chunk holds at most
    // one event per partition. The transactional work still runs in feed order.
    const results: Array<TransactionalWork<Tx> | void> = new Array(deliveries.length);
    let cursor = 0;
    let fenced: unknown;
    const worker = async (): Promise<void> => {
      while (!failed && fenced === undefined && cursor < deliveries.length) {
        if (!this.leaseFresh()) {
          try {
            await this.holdLease();
          } catch (error) {
            fenced ??= error;
            return;
          }
        }
        if (failed || fenced !== undefined || cursor >= deliveries.length) return;
        const index = cursor++;
        const { envelope, event } = deliveries[index]!;
        try {
          results[index] = await this.deliver(event, envelope);
          handled += 1;
        } catch (error) {
          if (!failed) failedEvent = { eventId: envelope.eventId, message: describe(error) };
          failed = true;
        }
      }
    };
    await Promise.all(Array.from({ length: this.partitioned ? Math.min(this.options.concurrency, deliveries.length) : 1 }, worker));
    // Fenced off mid-chunk: the chunk is dropped, its transactional work never runs. Otherwise the
    // checkpoint transaction starts with at least half a lease left (renewed here when due).
    if (fenced !== undefined) throw fenced;
    await this.holdLease();
    for (const work of results) if (work) works.push(work);
    if (!failed && deferrable && works.length === 0 && park.length === 0) {
      this.noteProgress(events);
      return { handled, parked: 0 };
    }
    if (!failed) {
      try {
        await this.commit({ to, park }, works.length === 0 ? undefined : async (tx) => {
          for (const work of works) await work(tx);
        });
        this.noteProgress(events);
        return { handled, parked: park.length };
      } catch (error) {
        if (!(error instanceof HandlerFailure)) throw error;
      }
    }
    let parked = 0;
    handled = 0;
    for (const envelope of events) {
      const outcome = await this.deliverOne(envelope, envelope.eventId === failedEvent?.eventId ? failedEvent : undefined);
      if (outcome === 'handled') handled += 1;
      if (outcome === 'parked') parked += 1;
    }
    if (this.position !== to) await this.commit({ to, park: [] });
    return { handled, parked };
  }

  /**
   * A chunk through the handler's `handleBatch`: one call, its work in the checkpoint's
   * transaction. When the call or its work fails, nothing of the chunk is kept and it is redone one
   * event at a time (through `handle`), so the failing event is found, retried and parked alone.
   */
  private async processBatch(
    events: RecordedEvent[],
    to: FeedCursor,
    deliveries: SubscriptionDelivery[],
    park: ParkedEvent[],
    deferrable: boolean,
  ): Promise<{ handled: number; parked: number }> {
    if (!this.leaseFresh()) await this.holdLease();
    let work: TransactionalWork<Tx> | void = undefined;
    let failed = false;
    try {
      work = await this.deliverBatch(deliveries);
    } catch {
      failed = true;
    }
    if (!failed) {
      await this.holdLease();
      if (deferrable && !work && park.length === 0) {
        this.noteProgress(events);
        return { handled: deliveries.length, parked: 0 };
      }
      try {
        await this.commit({ to, park }, work || undefined);
        this.noteProgress(events);
        return { handled: deliveries.length, parked: park.length };
      } catch (error) {
        if (!(error instanceof HandlerFailure)) throw error;
      }
    }
    let handled = 0;
    let parked = 0;
    for (const envelope of events) {
      const outcome = await this.deliverOne(envelope);
      if (outcome === 'handled') handled += 1;
      if (outcome === 'parked') parked += 1;
    }
    if (this.position !== to) await this.commit({ to, park: [] });
    return { handled, parked };
  }

  /**
   * Hands a chunk to the handler's `handleBatch`, inside one CONSUMER span when telemetry is on;
   * the span stays open over the work returned (see `spanOver`).
   */
  private async deliverBatch(deliveries: SubscriptionDelivery[]): Promise<TransactionalWork<Tx> | void> {
    const handleBatch = this.handler.handleBatch!.bind(this.handler);
    if (!this.telemetry.enabled) return handleBatch(deliveries);
    const span = this.telemetry.startConsumeBatch(
      this.name,
      deliveries.map((delivery) => delivery.envelope),
    );
    return this.spanOver(span, () => handleBatch(deliveries));
  }

  /** Delivers one event with retries, and passes it (handled or parked). */
  private async deliverOne(envelope: RecordedEvent, failedBefore?: { message: string }): Promise<'handled' | 'parked' | 'skipped'> {
    const to = envelope.cursor!;
    if (!this.wants(envelope)) return 'skipped';
    const behind = this.held.get(envelope.streamId);
    if (behind !== undefined) {
      await this.commit({ to, park: [this.parkRecord(envelope, 'held', `waits behind parked event ${behind}`, 0)] });
      return 'parked';
    }
    let event: object;
    try {
      event = this.deps.serializer.deserialize(envelope);
    } catch (error) {
      await this.commit({ to, park: [this.parkRecord(envelope, 'failed', describe(error), 1)] });
      return 'parked';
    }
    const failure = await this.attempt(envelope, event, (work) => this.commit({ to, park: [] }, work), failedBefore);
    if (failure === undefined) {
      this.noteProgress([envelope]);
      return 'handled';
    }
    await this.commit({ to, park: [this.parkRecord(envelope, 'failed', failure.message, failure.attempts)] });
    return 'parked';
  }

  /**
   * Runs the handler and `commit` up to `maxAttempts` times with backoff. Returns undefined on
   * success, or the last error once the attempts are spent. Store failures propagate at once:
   * they are not the event's fault, and the next step starts again from the checkpoint.
   */
  private async attempt(
    envelope: RecordedEvent,
    event: object,
    commit: (work?: (tx: Tx) => Promise<void>) => Promise<void>,
    failedBefore?: { message: string },
  ): Promise<{ message: string; attempts: number } | undefined> {
    let message = failedBefore?.message ?? '';
    for (let attempt = failedBefore ? 2 : 1; attempt <= this.options.maxAttempts; attempt += 1) {
      await this.holdLease();
      try {
        let work: TransactionalWork<Tx> | void;
        try {
          work = await this.deliver(event, envelope);
        } catch (error) {
          throw new HandlerFailure(error);
        }
        await commit(work ? this.guarded(work) : undefined);
        return undefined;
      } catch (error) {
        if (!(error instanceof HandlerFailure)) throw error;
        message = describe(error);
        if (attempt === this.options.maxAttempts) break;
        const delay = Math.min(this.options.backoffInitialMs * 2 ** (attempt - 1), this.options.backoffMaxMs);
        this.logger.warn(
          `Subscription "${this.name}": ${envelope.type} ${envelope.streamId}@${envelope.version}${logContext(envelope.metadata)} failed (attempt ${attempt} of ` +
            `${this.options.maxAttempts}), retrying in ${delay} ms: ${message}`,
        );
        await this.sleep(delay);
      }
    }
    this.logger.error(
      `Subscription "${this.name}" parked ${envelope.type} ${envelope.streamId}@${envelope.version} (event ${envelope.eventId})${logContext(envelope.metadata)} after ` +
        `${this.options.maxAttempts} attempts; later events of ${envelope.streamId} wait behind it. Last error: ${message}`,
    );
    return { message, attempts: this.options.maxAttempts };
  }

  /**
   * Hands one event to the handler, inside its CONSUMER span when telemetry is on; the span stays
   * open over the work returned (see `spanOver`).
   */
  private deliver(event: object, envelope: RecordedEvent): Promise<TransactionalWork<Tx> | void> {
    if (!this.telemetry.enabled) return this.handler.handle(event, envelope);
    return this.spanOver(this.telemetry.startConsume(this.name, envelope), () => this.handler.handle(event, envelope));
  }

  /**
   * Runs `handle` in a CONSUMER span and keeps the span open over the transactional work it
   * returns: with exactly-once delivery the projection's method runs there, in the checkpoint
   * transaction, so the span must cover it (and its context be active then) and be marked failed
   * when it throws. The work ends the span when it runs; work that never runs (a chunk dropped or
   * redone one event at a time) has its span ended by `runOnce` at the end of the step.
   * A handler that saves its works together (`runWorks`: sagas) finds them by identity, so its
   * works are handed on as they are and the span ends with the call.
   */
  private async spanOver(span: TelemetrySpan, handle: () => Promise<TransactionalWork<Tx> | void>): Promise<TransactionalWork<Tx> | void> {
    let work: TransactionalWork<Tx> | void;
    try {
      work = await this.telemetry.runIn(span, handle);
    } catch (error) {
      this.telemetry.endSpan(span, error);
      throw error;
    }
    if (!work || this.handler.runWorks) {
      this.telemetry.endSpan(span);
      return work;
    }
    const inner = work;
    this.openSpans.add(span);
    return async (tx) => {
      // Run again (a transaction retried after its first run): the span has ended with the first run.
      if (!this.openSpans.delete(span)) return inner(tx);
      try {
        await this.telemetry.runIn(span, () => inner(tx));
      } catch (error) {
        this.telemetry.endSpan(span, error);
        throw error;
      }
      this.telemetry.endSpan(span);
    };
  }

  /** Ends the CONSUMER spans whose work never ran (see `spanOver`). */
  private endOpenSpans(): void {
    for (const span of this.openSpans) this.telemetry.endSpan(span);
    this.openSpans.clear();
  }

  /** Tags failures of the handler's transactional work, so they count as attempts. */
  private guarded(work: TransactionalWork<Tx>): TransactionalWork<Tx> {
    return async (tx) => {
      try {
        await work(tx);
      } catch (error) {
        throw new HandlerFailure(error);
      }
    };
  }

  /** One fenced step from the current position; on success the runner moves along. */
  private async commit(
    step: { to: FeedCursor | null; park: ParkedEvent[]; unpark?: string[]; clearRedrive?: string },
    work?: (tx: Tx) => Promise<void>,
  ): Promise<void> {
    const failedPark = step.park.find((event) => event.reason === 'failed');
    const lastError = failedPark
      ? `parked ${failedPark.type} ${failedPark.streamId}@${failedPark.version}: ${failedPark.error ?? ''}`
      : this.lastError !== null && this.held.size === 0
        ? null
        : undefined;
    const advance: CheckpointAdvance = {
      name: this.name,
      owner: this.owner,
      from: this.position,
      to: step.to,
      park: step.park,
      ...(step.unpark ? { unpark: step.unpark } : {}),
      ...(step.clearRedrive ? { clearRedrive: step.clearRedrive } : {}),
      ...(lastError === undefined ? {} : { lastError }),
    };
    await this.deps.store.advance(advance, work ? this.guarded(work) : undefined);
    // A step forward covers every deferred move (it reads after them); a re-drive's does not move.
    if (step.to !== this.position) this.deferred = undefined;
    this.position = step.to;
    if (lastError !== undefined) this.lastError = lastError;
    for (const event of step.park) if (!this.held.has(event.streamId)) this.held.set(event.streamId, event.eventId);
  }

  private noteProgress(events: RecordedEvent[]): void {
    const last = events[events.length - 1];
    if (last) this.lastEventAt = last.occurredAt;
  }

  /** Re-delivers the parked events of streams a re-drive was requested for, in version order. */
  private async redriveIfRequested(): Promise<void> {
    const now = Date.now();
    if (now - this.lastRedriveCheck < REDRIVE_CHECK_MS) return;
    this.lastRedriveCheck = now;
    if (this.held.size === 0) return;
    // Usually nothing is requested: one small query, not a read of everything parked.
    const requested = await this.deps.store.parked(this.name, { redriveRequested: true });
    for (const streamId of new Set(requested.map((event) => event.streamId))) {
      const queue = await this.deps.store.parked(this.name, { streamId });
      let cleared = true;
      for (const entry of queue) {
        const [envelope] = await this.deps.journal.readStream(entry.streamId, { fromVersion: entry.version, toVersion: entry.version });
        if (!envelope) {
          await this.commit({ to: this.position, park: [], unpark: [entry.eventId] });
          continue;
        }
        let failure: { message: string; attempts: number } | undefined;
        try {
          const event = this.deps.serializer.deserialize(envelope);
          failure = await this.attempt(envelope, event, (work) => this.commit({ to: this.position, park: [], unpark: [entry.eventId] }, work));
        } catch (error) {
          if (error instanceof CheckpointLeaseLostError || error instanceof Stopped) throw error;
          failure = { message: describe(error), attempts: 1 };
        }
        if (failure) {
          const again = { ...this.parkRecord(envelope, 'failed', failure.message, entry.attempts + failure.attempts), parkedAt: entry.parkedAt };
          this.held.set(streamId, entry.eventId);
          await this.commit({ to: this.position, park: [again], clearRedrive: streamId });
          cleared = false;
          break;
        }
        this.logger.log(`Subscription "${this.name}" re-drove ${envelope.type} ${envelope.streamId}@${envelope.version}${logContext(envelope.metadata)}.`);
      }
      if (cleared) this.held.delete(streamId);
    }
  }

  private parkRecord(envelope: RecordedEvent, reason: 'failed' | 'held', error: string, attempts: number): ParkedEvent {
    return {
      subscription: this.name,
      eventId: envelope.eventId,
      streamId: envelope.streamId,
      version: envelope.version,
      position: envelope.position,
      type: envelope.type,
      reason,
      error,
      attempts,
      parkedAt: this.clock.now(),
      redriveRequestedAt: null,
    };
  }

  /** Waits `ms`; a stop ends the wait with `Stopped`, a lost lease with `CheckpointLeaseLostError`. */
  private sleep(ms: number): Promise<void> {
    const stop = this.stopSignal.signal;
    const fence = this.fence.signal;
    return new Promise((resolve, reject) => {
      if (stop.aborted) return reject(new Stopped());
      if (fence.aborted) return reject(new CheckpointLeaseLostError(this.name, this.owner));
      const done = (): void => {
        clearTimeout(timer);
        stop.removeEventListener('abort', onStop);
        fence.removeEventListener('abort', onFence);
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      const onStop = (): void => {
        done();
        reject(new Stopped());
      };
      const onFence = (): void => {
        done();
        reject(new CheckpointLeaseLostError(this.name, this.owner));
      };
      stop.addEventListener('abort', onStop, { once: true });
      fence.addEventListener('abort', onFence, { once: true });
    });
  }
}
