import type { NewEvent, RecordedEvent } from '../events/recorded-event.js';

/**
 * Opaque position in the global feed. Compare cursors only through the journal that made
 * them; on PostgreSQL a cursor carries the writing transaction's id and the event position.
 */
export type FeedCursor = string;

/** Appends to one stream inside a unit of work. */
export interface StreamWrite {
  streamId: string;
  aggregateType: string;
  /** The version the stream must be at: 0 for a stream that has never been written. */
  expectedVersion: number;
  /** At least one event. */
  events: NewEvent[];
}

/** The recorded outcome of a command, replayed to any retry with the same command id. */
export type CommandOutcome =
  | { kind: 'accepted'; fromVersion: number; toVersion: number; cursor?: FeedCursor }
  | { kind: 'rejected'; error: RecordedError };

/** A rejection as recorded: enough to rebuild an equivalent error. */
export interface RecordedError {
  name: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** A command's idempotency record, written in the same transaction as its events. */
export interface CommandRecord {
  commandId: string;
  /** Hash of the command's type and payload: a reused id with another command is refused. */
  fingerprint: string;
  streamId: string;
  aggregateType: string;
  outcome: CommandOutcome;
  recordedAt: Date;
}

/**
 * One unit of work: any number of stream writes and command records, committed together or
 * not at all.
 */
export interface AppendRequest {
  writes: StreamWrite[];
  commands?: CommandRecord[];
  /**
   * Dynamic consistency boundary: the unit commits only if no event matching
   * `condition.failIfEventsMatch` was committed after `condition.after`; otherwise it fails with
   * `AppendConditionConflictError` and writes nothing. Checked atomically with the expected
   * versions of `writes`. Absent: today's append, unchanged.
   */
  condition?: AppendCondition;
  /**
   * Who commits the unit, for the wake-up it sends: a journal that notifies other instances of its
   * commits (PostgreSQL NOTIFY) sends this tag with the notification, and
   * `NotificationSource.onWake` hands it to each listener. A runtime tags the units of its
   * own commands and skips the notifications that carry its tag: it wakes its own relay and
   * subscriptions after those commits itself, so each of its commits wakes it once, not twice.
   * 1–64 letters, digits, `-`, `_`, `.` or `:` (see `checkAppendOrigin`). Absent: the
   * notification carries no tag and wakes every listener, this instance's included.
   */
  origin?: string;
}

/**
 * One item of an {@link EventQuery}: it matches an event whose type is one of `types` (any type
 * when absent or empty) and that carries every one of `tags` (any tags when absent or empty).
 */
export interface EventQueryItem {
  types?: readonly string[];
  tags?: readonly string[];
}

/**
 * A query by event type and tag: it matches an event when any of its items does. At least one item
 * (`[{}]` matches every event); see `EVENT_QUERY_LIMITS` for the sizes every journal accepts.
 */
export type EventQuery = readonly EventQueryItem[];

/** The condition of a conditional append (see {@link AppendRequest.condition}). */
export interface AppendCondition {
  /** The events whose appearance after `after` makes the decision stale. */
  failIfEventsMatch: EventQuery;
  /**
   * Where the decision's read ended: the `next` cursor of {@link JournalStreams.readByQuery} (never a
   * count or a position worked out otherwise). Null: the decision read nothing, so any matching
   * event fails the append.
   */
  after: FeedCursor | null;
}

/** Options of {@link JournalStreams.readByQuery}. */
export interface ReadByQueryOptions {
  /** Read the matching events after this cursor (null: from the beginning). @default null */
  after?: FeedCursor | null;
  /** Most events to return. @default unbounded */
  limit?: number;
}

/** What {@link JournalStreams.readByQuery} found. */
export interface QueryPage {
  /** The matching events, in feed order. */
  events: RecordedEvent[];
  /**
   * Where the read ended: after the last event returned when the limit cut the page, else the
   * point up to which the read saw every committed event (PostgreSQL: the feed's bound). Pass it
   * as the `after` of an append condition, or to the next read.
   */
  next: FeedCursor;
}

/** What one stream write became. */
export interface AppendedStream {
  streamId: string;
  aggregateType: string;
  fromVersion: number;
  toVersion: number;
  events: RecordedEvent[];
}

/** What a unit of work wrote, stream by stream in request order. */
export interface AppendResult {
  streams: AppendedStream[];
  /**
   * Feed cursor at the last event written (undefined when no event was written). It answers
   * "has a reader passed my write?"; it is not a safe place to start reading from, because on
   * PostgreSQL a transaction still open with a lower id may yet commit events before it.
   */
  cursor?: FeedCursor;
}

/** A stream's bookkeeping row. */
export interface StreamInfo {
  streamId: string;
  aggregateType: string;
  /** Highest version ever written; never decreases, not even on deletion. */
  version: number;
  /** Events at or below this version are logically deleted (0: none). */
  deletedUpTo: number;
}

export interface ReadStreamOptions {
  /** Lowest version to return (inclusive). @default 1 */
  fromVersion?: number;
  /** Highest version to return (inclusive). @default unbounded */
  toVersion?: number;
  /** Most events to return. @default unbounded */
  limit?: number;
}

export interface ListStreamsOptions {
  aggregateType?: string;
  /** Return ids sorting after this one (keyset pagination). */
  after?: string;
  /** @default 1000 */
  limit?: number;
}

/** Options of {@link JournalFeed.readAll}. */
export interface ReadAllOptions<Tx = unknown> {
  /**
   * Read inside this unit of work (a rebuild replays the feed in the transaction that rewrites its
   * read model). On SQLite this is the only way to read from inside a transaction.
   */
  tx?: Tx;
}

/** Options of {@link Journal.readLatest}. */
export interface ReadLatestOptions {
  /** Most events to return: a safe integer >= 0. */
  limit: number;
  /** Only events below this global position (the previous page's last `position`). @default unbounded */
  beforePosition?: number;
}

/** A page of the global feed. */
export interface FeedPage {
  events: RecordedEvent[];
  /** Where the next read starts; equals the input cursor when nothing new was found. */
  next: FeedCursor | null;
}

/** Why the feed cannot advance further right now (PostgreSQL: the oldest running transaction). */
export interface FeedBlocker {
  transactionId: string;
  pid?: number;
  startedAt?: Date;
  state?: string;
  query?: string;
}

/**
 * A contribution to the journal's unit of work: called inside the append transaction after the
 * events are written, with that transaction's handle (`Tx` is adapter-specific: a TypeORM
 * EntityManager, or the in-memory journal's staging area). Throwing rolls everything back.
 * Write through `tx` only: awaiting another journal call from inside would wait, on SQLite,
 * for the very lock this unit holds.
 */
export interface UnitOfWorkParticipant<Tx = unknown> {
  participate(tx: Tx, request: AppendRequest, result: AppendResult): Promise<void>;
}

/**
 * The stream side of the journal: what a command's path needs (appends with their command records
 * and participants, stream reads, decisions' queries, the recorded outcomes). The command gateway
 * depends on this side only. The guarantees are the {@link Journal}'s.
 */
export interface JournalStreams<Tx = unknown> {

  /**
   * Whether an append runs mostly outside this Node thread (in a database server), so that a
   * unit written early lets the server work on it while this process prepares the next. Group
   * commit starts batches early only then (`groupCommit.earlyFlushSize: 'auto'`). Absent or false
   * for a journal that writes on this thread (SQLite through better-sqlite3, in memory), where
   * writing early only makes more, smaller transactions.
   */
  readonly appendsOverlap?: boolean;
  /** Commits one unit of work: every write, command record and participant's rows, or nothing. */
  append(request: AppendRequest): Promise<AppendResult>;
  /**
   * Optional: several conditional units of work committed as one (group commit for decisions).
   * The caller passes only units that cannot conflict with each other: no stream or command id in
   * two of them, and no unit's condition matches another's new events. Each condition is then
   * checked against the committed events exactly as `append` would check it alone, atomically for
   * all. Resolves with each unit's result in order, or with undefined when any check failed or a
   * unit cannot join (nothing was written): append the units one by one then, to learn which
   * failed and why.
   */
  appendConditionalBatch?(requests: readonly AppendRequest[]): Promise<AppendResult[] | undefined>;
  /** Events of one stream in version order, skipping logically deleted ones. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Bookkeeping of a stream, or undefined for a stream never written. */
  streamInfo(streamId: string): Promise<StreamInfo | undefined>;
  /** Highest version written to the stream (0 for a stream never written), without replaying it. */
  streamVersion(streamId: string): Promise<number>;
  /**
   * Logically deletes the events up to `upToVersion` (default: all). The highest version is
   * kept and the next append continues the numbering.
   */
  deleteStream(streamId: string, upToVersion?: number): Promise<void>;
  listStreams(options?: ListStreamsOptions): Promise<string[]>;
  /**
   * The events matching `query` in feed order after `options.after`, at most `options.limit`, with
   * the cursor a decision passes to its conditional append.
   */
  readByQuery(query: EventQuery, options?: ReadByQueryOptions): Promise<QueryPage>;
  /** The recorded outcome of a command, if any. */
  findCommand(commandId: string): Promise<CommandRecord | undefined>;
  /** Deletes command records older than `before`; returns how many. */
  pruneCommands(before: Date): Promise<number>;
  /** Adds a contributor to every later unit of work. */
  addParticipant(participant: UnitOfWorkParticipant<Tx>): void;
}

/**
 * The feed side of the journal: the global feed in commit-safe order, for its readers (the outbox
 * relay's backfill, the subscription runners, progress reports). The guarantees are the
 * {@link Journal}'s.
 */
export interface JournalFeed<Tx = unknown> {
  /**
   * Events committed after `after` (null: from the beginning), oldest first, at most `limit`.
   * The feed is the whole history: logically deleted events are still in it (deletion only
   * changes what a stream replays).
   */
  readAll(after: FeedCursor | null, limit: number, options?: ReadAllOptions<Tx>): Promise<FeedPage>;
  /**
   * Orders two cursors of this journal: negative when `a` comes before `b`, 0 when equal, positive
   * after. A subscription at cursor `c` has passed an event at cursor `e` when `compare(c, e) >= 0`.
   * Throws for a cursor this journal did not make.
   */
  compareCursors(a: FeedCursor, b: FeedCursor): number;
  /** Events carrying exactly this tag, in position order, after a position (deleted ones included). */
  readByTag(tag: string, options?: { afterPosition?: number; limit?: number }): Promise<RecordedEvent[]>;
  /**
   * The highest global position written so far (0 for an empty journal): an estimate of the feed's
   * length for progress reports (positions of rolled-back units are never used, so it can be higher).
   */
  headPosition(): Promise<number>;
  /**
   * The events with the highest global positions, newest first, at most `options.limit`, below
   * `options.beforePosition` when given (paging backwards; deleted events included). For display
   * (an operations console's live feed), not for consuming: an event of a transaction still open
   * at a lower position shows up later below events already shown, so a reader must not resume
   * from it — consumers read `readAll`.
   */
  readLatest(options: ReadLatestOptions): Promise<RecordedEvent[]>;
  /** The transaction currently holding the feed back, if any. */
  feedBlocker(): Promise<FeedBlocker | undefined>;
}

/**
 * The event journal: append-only streams with per-stream versions 1..n and a global feed.
 *
 * Guarantees every implementation keeps (the contract suite checks them):
 * - `append` is atomic over all its writes, command records and participants;
 * - a write whose expected version is not the stream's version fails with `ConcurrencyError`
 *   (expected and actual), whichever connection or process wrote first, and writes nothing;
 * - a command record whose id exists already fails the unit with `DuplicateCommandError`;
 * - every version, position and limit argument takes any safe integer in its range (a version past
 *   the end of every stream reads nothing, deletes everything, or conflicts); anything else (a
 *   string, NaN, a fraction, a negative, a value past `Number.MAX_SAFE_INTEGER`) fails with
 *   `InvalidArgumentError` naming the argument before anything is read or written;
 * - `readByQuery` returns every committed event matching the query in feed order, served by an
 *   index; a query that is malformed or exceeds `EVENT_QUERY_LIMITS` fails with
 *   `InvalidArgumentError` before anything is read or written;
 * - an append with a `condition` fails with `AppendConditionConflictError` (and writes nothing) when
 *   an event matching the condition's query was committed after its `after` cursor, including by a
 *   concurrent conditional append from any process: of two conditional appends whose conditions
 *   match each other's events, at most one commits; appends whose queries match none of the other's
 *   events never conflict. A cursor this journal did not hand out fails with a named error when
 *   the store can tell (cursors carry no journal id: memory and SQLite accept another journal's
 *   position within their head, PostgreSQL another journal's end cursor whose transaction id
 *   its cluster has assigned);
 * - `readAll` never skips an event that is committed, even when transactions commit out of
 *   position order; when the store finds it cannot keep that promise (a PostgreSQL journal
 *   restored into another cluster, a cursor that cluster never handed out) it throws a named
 *   error instead of returning a page.
 */
export interface Journal<Tx = unknown> extends JournalStreams<Tx>, JournalFeed<Tx> {}
