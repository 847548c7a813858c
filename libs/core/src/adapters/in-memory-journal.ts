import { ConcurrencyError } from '../errors/concurrency.error.js';
import { AppendConditionConflictError } from '../errors/append-condition-conflict.error.js';
import { DuplicateCommandError } from '../errors/duplicate-command.error.js';
import { InvalidArgumentError } from '../errors/invalid-argument.error.js';
import type { EventMetadata } from '../events/event-metadata.js';
import { checkIntegerArgument } from '../ports/integer-argument.js';
import { checkAppendOrigin } from '../ports/append-origin.js';
import { checkAppendCondition, checkEventQuery, eventMatchesQuery } from '../ports/event-query.js';
import type { NewEvent, RecordedEvent } from '../events/recorded-event.js';
import type {
  AppendedStream,
  AppendRequest,
  AppendResult,
  CommandRecord,
  EventQuery,
  FeedBlocker,
  FeedCursor,
  FeedPage,
  Journal,
  ListStreamsOptions,
  QueryPage,
  ReadByQueryOptions,
  ReadStreamOptions,
  StreamInfo,
  StreamWrite,
  UnitOfWorkParticipant,
  ReadLatestOptions,
} from '../ports/journal.port.js';
import { compareCodePoints } from './code-point-order.js';
import type { InMemoryTransaction } from './in-memory-transaction.js';

/**
 * An event as kept in memory. Payload and metadata are JSON text, as a database column would hold
 * them: callers can neither reach stored objects nor get back anything a real store would not.
 */
interface StoredEvent {
  readonly streamId: string;
  readonly aggregateType: string;
  readonly version: number;
  readonly position: number;
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly payload: string | undefined;
  readonly metadata: string;
  readonly tags: readonly string[];
  readonly occurredAt: number;
}

interface StoredStream {
  readonly aggregateType: string;
  version: number;
  deletedUpTo: number;
  /** Index `version - 1`: deletion is logical, so nothing is ever removed. */
  readonly events: StoredEvent[];
}

interface StoredCommand {
  /** The record without `recordedAt`, as JSON text. */
  readonly json: string;
  readonly recordedAt: number;
}

/** A validated unit of work, ready to apply without any further check. */
interface StagedUnit {
  readonly streams: readonly { readonly write: StreamWrite; readonly events: readonly StoredEvent[] }[];
  readonly commands: readonly (readonly [string, StoredCommand])[];
}

const DEFAULT_LIST_LIMIT = 1000;

/**
 * The journal in process memory: for unit tests, the demo without a database, and as the
 * reference behaviour of the contract suite. Data lives as long as the instance.
 *
 * Units of work run one at a time (participants may await), are validated completely before
 * anything changes, and then applied at once: a failure at any step leaves no trace. The feed
 * cursor is the position as a decimal string; as units never interleave, positions commit in
 * order and the feed cannot skip an event.
 *
 * Participants must not call the journal's writing methods (`append`, `deleteStream`,
 * `pruneCommands`) from `participate`: those wait for the unit in progress, which waits for them.
 *
 * A conditional append checks its condition synchronously in the same step as its expected
 * versions, inside the queue of units: no other unit can commit between the check and the apply.
 */
export class InMemoryJournal implements Journal<InMemoryTransaction> {
  private readonly streams = new Map<string, StoredStream>();
  /** Index `position - 1`. */
  private readonly log: StoredEvent[] = [];
  private readonly byTag = new Map<string, StoredEvent[]>();
  private readonly byType = new Map<string, StoredEvent[]>();
  private readonly commands = new Map<string, StoredCommand>();
  private readonly participants: UnitOfWorkParticipant<InMemoryTransaction>[] = [];
  private queue: Promise<void> = Promise.resolve();

  async append(request: AppendRequest): Promise<AppendResult> {
    return this.exclusive(async () => {
      const unit = this.stage(request);
      const transaction = new StagingTransaction();
      try {
        for (const participant of [...this.participants]) {
          await participant.participate(transaction, request, resultOf(unit));
        }
      } catch (error) {
        transaction.end();
        throw error;
      }
      this.apply(unit);
      transaction.commit();
      return resultOf(unit);
    });
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (options.limit !== undefined) checkIntegerArgument('limit', options.limit, 0);
    if (options.fromVersion !== undefined) checkIntegerArgument('fromVersion', options.fromVersion, 0);
    if (options.toVersion !== undefined) checkIntegerArgument('toVersion', options.toVersion, 0);
    const stream = this.streams.get(streamId);
    if (stream === undefined) return [];
    const from = Math.max(options.fromVersion ?? 1, stream.deletedUpTo + 1, 1);
    const to = Math.min(options.toVersion ?? stream.version, stream.version);
    const found: RecordedEvent[] = [];
    for (let version = from; version <= to && found.length < limit; version++) {
      const event = stream.events[version - 1];
      if (event !== undefined) found.push(decode(event));
    }
    return found;
  }

  async streamInfo(streamId: string): Promise<StreamInfo | undefined> {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return undefined;
    return { streamId, aggregateType: stream.aggregateType, version: stream.version, deletedUpTo: stream.deletedUpTo };
  }

  async streamVersion(streamId: string): Promise<number> {
    return this.streams.get(streamId)?.version ?? 0;
  }

  /**
   * Deletion only ever grows: a smaller `upToVersion` than an earlier one is ignored, and a larger
   * one than the stream's version stops at that version, so events appended later stay readable.
   * Deleting a stream that was never written does nothing.
   */
  async deleteStream(streamId: string, upToVersion?: number): Promise<void> {
    if (upToVersion !== undefined) checkIntegerArgument('upToVersion', upToVersion, 0);
    await this.exclusive(async () => {
      const stream = this.streams.get(streamId);
      if (stream === undefined) return;
      const upTo = Math.min(upToVersion ?? stream.version, stream.version);
      stream.deletedUpTo = Math.max(stream.deletedUpTo, upTo);
    });
  }

  async listStreams(options: ListStreamsOptions = {}): Promise<string[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    checkIntegerArgument('limit', limit, 0);
    const { after, aggregateType } = options;
    const ids: string[] = [];
    for (const [streamId, stream] of this.streams) {
      if (aggregateType !== undefined && stream.aggregateType !== aggregateType) continue;
      if (after !== undefined && compareCodePoints(streamId, after) <= 0) continue;
      ids.push(streamId);
    }
    return ids.sort(compareCodePoints).slice(0, limit);
  }

  async readAll(after: FeedCursor | null, limit: number): Promise<FeedPage> {
    checkIntegerArgument('limit', limit, 0);
    const start = after === null ? 0 : parseCursor(after);
    const events = this.log.slice(start, start + limit).map(decode);
    const last = events[events.length - 1];
    return { events, next: last === undefined ? after : String(last.position) };
  }

  async headPosition(): Promise<number> {
    return this.log.length;
  }

  compareCursors(a: FeedCursor, b: FeedCursor): number {
    return parseCursor(a) - parseCursor(b);
  }

  /** {@inheritDoc JournalStreams.readByQuery} Served by the per-tag and per-type lists. */
  async readByQuery(query: EventQuery, options: ReadByQueryOptions = {}): Promise<QueryPage> {
    checkEventQuery('query', query);
    const after = options.after ?? null;
    const start = after === null ? 0 : this.positionOf('after', after);
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (options.limit !== undefined) checkIntegerArgument('limit', options.limit, 0);
    const found = this.matching(query, start);
    if (found.length > limit) {
      const events = found.slice(0, limit).map(decode);
      return { events, next: events.length === 0 ? String(start) : String(events[events.length - 1]!.position) };
    }
    return { events: found.map(decode), next: String(Math.max(start, this.log.length)) };
  }

  /** The stored events matching `query` after position `start`, in position order. */
  private matching(query: EventQuery, start: number): StoredEvent[] {
    const found = new Map<number, StoredEvent>();
    for (const item of query) {
      // The shortest candidate list among the item's tags (all required) and types (one of them).
      let candidates: readonly StoredEvent[] = this.log;
      for (const tag of item.tags ?? []) {
        const tagged = this.byTag.get(tag) ?? [];
        if (tagged.length < candidates.length) candidates = tagged;
      }
      if (item.types !== undefined && item.types.length > 0) {
        const typed = item.types.flatMap((type) => this.byType.get(type) ?? []);
        if (typed.length < candidates.length) candidates = typed;
      }
      for (const event of candidates) {
        if (event.position > start && eventMatchesQuery([item], event.type, event.tags)) found.set(event.position, event);
      }
    }
    return [...found.values()].sort((a, b) => a.position - b.position);
  }

  /** A cursor of this journal as a position, or `InvalidArgumentError` naming `argument` (another journal's cursor). */
  private positionOf(argument: string, cursor: unknown): number {
    if (typeof cursor !== 'string' || !/^\d+$/.test(cursor) || Number(cursor) > this.log.length) {
      throw new InvalidArgumentError(
        argument,
        cursor,
        `a cursor this journal handed out (a position from 0 to its head, ${this.log.length}); a cursor of another journal cannot be compared`,
      );
    }
    return Number(cursor);
  }

  /** {@inheritDoc JournalFeed.readLatest} */
  async readLatest(options: ReadLatestOptions): Promise<RecordedEvent[]> {
    const limit = checkIntegerArgument('limit', options?.limit, 0);
    const before = options.beforePosition === undefined ? Number.MAX_SAFE_INTEGER : checkIntegerArgument('beforePosition', options.beforePosition, 0);
    const found: RecordedEvent[] = [];
    for (let index = this.log.length - 1; index >= 0 && found.length < limit; index--) {
      const stored = this.log[index]!;
      if (stored.position < before) found.push(decode(stored));
    }
    return found;
  }

  async readByTag(tag: string, options: { afterPosition?: number; limit?: number } = {}): Promise<RecordedEvent[]> {
    const afterPosition = options.afterPosition ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    checkIntegerArgument('afterPosition', afterPosition, 0);
    if (options.limit !== undefined) checkIntegerArgument('limit', options.limit, 0);
    const found: RecordedEvent[] = [];
    for (const event of this.byTag.get(tag) ?? []) {
      if (found.length >= limit) break;
      if (event.position > afterPosition) found.push(decode(event));
    }
    return found;
  }

  /** Always undefined: units apply at once, so nothing ever holds the feed back. */
  async feedBlocker(): Promise<FeedBlocker | undefined> {
    return undefined;
  }

  async findCommand(commandId: string): Promise<CommandRecord | undefined> {
    const stored = this.commands.get(commandId);
    return stored === undefined ? undefined : decodeCommand(stored);
  }

  async pruneCommands(before: Date): Promise<number> {
    const cutoff = checkDate('before', before);
    return this.exclusive(async () => {
      let pruned = 0;
      for (const [commandId, stored] of this.commands) {
        if (stored.recordedAt < cutoff) {
          this.commands.delete(commandId);
          pruned++;
        }
      }
      return pruned;
    });
  }

  addParticipant(participant: UnitOfWorkParticipant<InMemoryTransaction>): void {
    this.participants.push(participant);
  }

  /** Runs writers one after another, so a unit's checks still hold when it is applied. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Checks the whole unit against the current state and encodes it; changes nothing. */
  private stage(request: AppendRequest): StagedUnit {
    if (!Array.isArray(request.writes)) throw new TypeError('AppendRequest.writes must be an array (it may be empty).');
    checkAppendOrigin(request.origin);
    const { condition } = request;
    let conditionAfter = 0;
    if (condition !== undefined) {
      checkAppendCondition(condition, request.writes.flatMap((write) => (Array.isArray(write.events) ? write.events : [])));
      conditionAfter = condition.after === null ? 0 : this.positionOf('condition.after', condition.after);
    }
    // A unit may write one stream twice; the second write then expects the first one's result.
    const versions = new Map<string, number>();
    let position = this.log.length;
    const streams = request.writes.map((write, index) => {
      checkWrite(write, index);
      const actual = versions.get(write.streamId) ?? this.streams.get(write.streamId)?.version ?? 0;
      if (actual !== write.expectedVersion) throw new ConcurrencyError(write.streamId, write.expectedVersion, actual);
      const events = write.events.map((event, index) =>
        encode(write, event, write.expectedVersion + index + 1, ++position),
      );
      versions.set(write.streamId, write.expectedVersion + write.events.length);
      return { write, events };
    });

    if (condition !== undefined) {
      const [conflict] = this.matching(condition.failIfEventsMatch, conditionAfter);
      if (conflict !== undefined) throw new AppendConditionConflictError(condition.failIfEventsMatch, condition.after, decode(conflict));
    }

    const seen = new Set<string>();
    const commands = (request.commands ?? []).map((record) => {
      if (this.commands.has(record.commandId) || seen.has(record.commandId)) {
        throw new DuplicateCommandError(record.commandId);
      }
      seen.add(record.commandId);
      return [record.commandId, encodeCommand(record)] as const;
    });
    return { streams, commands };
  }

  /** Applies a staged unit; nothing here can fail. */
  private apply(unit: StagedUnit): void {
    for (const { write, events } of unit.streams) {
      let stream = this.streams.get(write.streamId);
      if (stream === undefined) {
        stream = { aggregateType: write.aggregateType, version: 0, deletedUpTo: 0, events: [] };
        this.streams.set(write.streamId, stream);
      }
      for (const event of events) {
        stream.events.push(event);
        this.log.push(event);
        for (const tag of new Set(event.tags)) {
          const tagged = this.byTag.get(tag);
          if (tagged === undefined) this.byTag.set(tag, [event]);
          else tagged.push(event);
        }
        const typed = this.byType.get(event.type);
        if (typed === undefined) this.byType.set(event.type, [event]);
        else typed.push(event);
      }
      stream.version = write.expectedVersion + events.length;
    }
    for (const [commandId, stored] of unit.commands) this.commands.set(commandId, stored);
  }
}

/** The `InMemoryTransaction` of one unit of work. */
class StagingTransaction implements InMemoryTransaction {
  private readonly callbacks: (() => void)[] = [];
  private open = true;

  onCommit(apply: () => void): void {
    if (!this.open) {
      throw new Error('The in-memory unit of work has ended; register onCommit callbacks inside participate().');
    }
    this.callbacks.push(apply);
  }

  commit(): void {
    this.open = false;
    for (const apply of this.callbacks) apply();
  }

  end(): void {
    this.open = false;
  }
}

function resultOf(unit: StagedUnit): AppendResult {
  const streams: AppendedStream[] = unit.streams.map(({ write, events }) => ({
    streamId: write.streamId,
    aggregateType: write.aggregateType,
    fromVersion: write.expectedVersion + 1,
    toVersion: write.expectedVersion + events.length,
    events: events.map(decode),
  }));
  const last = unit.streams.flatMap(({ events }) => events).at(-1);
  return last === undefined ? { streams } : { streams, cursor: String(last.position) };
}

function encode(write: StreamWrite, event: NewEvent, version: number, position: number): StoredEvent {
  const where = `event ${version} of stream "${write.streamId}"`;
  if (typeof event.eventId !== 'string' || event.eventId === '') {
    throw new TypeError(`The ${where} needs a non-empty eventId.`);
  }
  if (typeof event.type !== 'string' || event.type === '') throw new TypeError(`The ${where} needs a non-empty type.`);
  if (!Number.isInteger(event.schemaVersion)) {
    throw new TypeError(`The ${where} needs an integer schemaVersion, got ${String(event.schemaVersion)}.`);
  }
  if (!Array.isArray(event.tags) || event.tags.some((tag) => typeof tag !== 'string')) {
    throw new TypeError(`The ${where} needs tags as an array of strings.`);
  }
  return {
    streamId: write.streamId,
    aggregateType: write.aggregateType,
    version,
    position,
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    payload: JSON.stringify(event.payload),
    metadata: JSON.stringify(event.metadata ?? {}),
    tags: [...event.tags],
    occurredAt: checkDate(`occurredAt of the ${where}`, event.occurredAt),
  };
}

function decode(event: StoredEvent): RecordedEvent {
  return {
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    payload: event.payload === undefined ? undefined : (JSON.parse(event.payload) as unknown),
    metadata: JSON.parse(event.metadata) as EventMetadata,
    tags: [...event.tags],
    occurredAt: new Date(event.occurredAt),
    streamId: event.streamId,
    aggregateType: event.aggregateType,
    version: event.version,
    position: event.position,
    cursor: String(event.position),
  };
}

function encodeCommand(record: CommandRecord): StoredCommand {
  if (typeof record.commandId !== 'string' || record.commandId === '') {
    throw new TypeError('A command record needs a non-empty commandId.');
  }
  const { recordedAt, ...rest } = record;
  return { json: JSON.stringify(rest), recordedAt: checkDate(`recordedAt of command "${record.commandId}"`, recordedAt) };
}

function decodeCommand(stored: StoredCommand): CommandRecord {
  return { ...(JSON.parse(stored.json) as Omit<CommandRecord, 'recordedAt'>), recordedAt: new Date(stored.recordedAt) };
}

function checkWrite(write: StreamWrite, index: number): void {
  if (typeof write.streamId !== 'string' || write.streamId === '') {
    throw new TypeError('A stream write needs a non-empty streamId.');
  }
  if (typeof write.aggregateType !== 'string' || write.aggregateType === '') {
    throw new TypeError(`The write to stream "${write.streamId}" needs a non-empty aggregateType.`);
  }
  checkIntegerArgument(`writes[${index}].expectedVersion`, write.expectedVersion, 0);
  if (!Array.isArray(write.events) || write.events.length === 0) {
    throw new RangeError(`The write to stream "${write.streamId}" has no events; a write appends at least one.`);
  }
}

function checkDate(name: string, value: Date): number {
  const time = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(time)) throw new TypeError(`${name} must be a valid Date, got ${String(value)}.`);
  return time;
}

function parseCursor(cursor: FeedCursor): number {
  if (!/^\d+$/.test(cursor)) {
    throw new TypeError(`Feed cursor "${cursor}" was not made by the in-memory journal (expected a position).`);
  }
  return Number(cursor);
}
