import { ConcurrencyError } from '../errors/concurrency.error.js';
import { DuplicateCommandError } from '../errors/duplicate-command.error.js';
import { combineAppendRequests } from '../ports/append-origin.js';
import { eventMatchesQuery } from '../ports/event-query.js';
import type { AppendRequest, AppendResult, AppendedStream, JournalStreams } from '../ports/journal.port.js';
import { ChronicleTelemetry, type TelemetrySpan } from '../telemetry/chronicle-telemetry.js';

/** Group commit settings. */
export interface GroupCommitOptions {
  /**
   * Share transactions between concurrent commands. Off, every command commits alone.
   * @default true
   */
  enabled?: boolean;
  /**
   * Most commands in one transaction.
   * @default 256
   */
  maxBatchSize?: number;
  /**
   * How long a batch may wait for more commands before it is written. 0 writes as soon as the
   * commands that are ready in the same turn of the event loop are collected, so a lone command
   * is not delayed; under load, commands gather while earlier batches are being written.
   * @default 0
   */
  windowMs?: number;
  /**
   * Batches written at the same time (each on its own connection). On PostgreSQL a batch holds its
   * connection for one statement. Without early batches (`earlyFlushSize`) the bench's 64 callers
   * kept only one in flight; with them, about two.
   * @default 4
   */
  maxConcurrentBatches?: number;
  /**
   * Write a batch as soon as this many commands wait and a batch slot is free, instead of at the
   * end of the event loop's turn. Under load, the callers a batch answers all send their next
   * commands in one turn; collected whole, they make one batch at a time, and the database idles
   * while Node prepares the batch, then Node idles while the database writes it. Writing the
   * first part early lets the two overlap. `'auto'` is 32 when the journal's appends run in a
   * database server (`Journal.appendsOverlap`: PostgreSQL) and 0, off, otherwise (SQLite, in
   * memory), where writing early only makes more, smaller transactions. On this project's 2-core
   * benchmark machine, 32 wrote 13–20 % more commands per second at 64 callers on PostgreSQL than
   * 0, and 16 less than 32 (A/B runs described in the README's Benchmarks section).
   * @default 'auto'
   */
  earlyFlushSize?: number | 'auto';
}

/** The group-commit defaults, the one place they are written (the gateway and the batcher both read them). */
export const GROUP_COMMIT_DEFAULTS = {
  enabled: true,
  maxBatchSize: 256,
  windowMs: 0,
  maxConcurrentBatches: 4,
  earlyFlushSize: 'auto',
} as const satisfies Required<GroupCommitOptions>;

/** `earlyFlushSize: 'auto'` on a journal whose appends overlap with this process's work. */
export const AUTO_EARLY_FLUSH_SIZE = 32;

interface Unit {
  request: AppendRequest;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
  /** The command's span, linked from the batch's `chronicle.commit`. */
  span: TelemetrySpan | undefined;
}

/** Whether `request` is a unit the error of a failed batch names: it writes the stream, or records the command id. */
function spoils(request: AppendRequest, error: ConcurrencyError | DuplicateCommandError): boolean {
  if (error instanceof ConcurrencyError) return request.writes.some((write) => write.streamId === error.streamId);
  return (request.commands ?? []).some((command) => command.commandId === error.commandId);
}

/**
 * Group commit: units of work (one per command) that are ready at the same moment share one
 * journal transaction, written with multi-row statements, and each caller is answered on its own.
 * Nothing a caller sees changes: when a batch fails because of one unit (a version conflict, a
 * command id recorded meanwhile), the batch is written again one unit at a time so that only that
 * unit fails; when it fails for any other reason, every unit of it fails with that error.
 */
export class CommitBatcher {
  private readonly maxBatchSize: number;
  private readonly windowMs: number;
  private readonly maxConcurrent: number;
  /** 0: batches are only written at the end of a turn (or window). */
  private readonly earlyFlushSize: number;
  private readonly waiting: Unit[] = [];
  /** Conditional units, batched apart from the others (only when the journal can: `appendConditionalBatch`). */
  private conditional: Unit[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly journal: JournalStreams,
    options: GroupCommitOptions = {},
    private readonly telemetry: ChronicleTelemetry = new ChronicleTelemetry(),
  ) {
    this.maxBatchSize = options.maxBatchSize ?? GROUP_COMMIT_DEFAULTS.maxBatchSize;
    this.windowMs = options.windowMs ?? GROUP_COMMIT_DEFAULTS.windowMs;
    this.maxConcurrent = options.maxConcurrentBatches ?? GROUP_COMMIT_DEFAULTS.maxConcurrentBatches;
    const early = options.earlyFlushSize ?? GROUP_COMMIT_DEFAULTS.earlyFlushSize;
    this.earlyFlushSize = early === 'auto' ? (journal.appendsOverlap === true ? AUTO_EARLY_FLUSH_SIZE : 0) : early;
  }

  /**
   * Appends one unit of work, batched with whatever else is ready. A conditional unit
   * (`request.condition`) never joins the plain units' batch: a merged unit would check each
   * condition only against committed events, never against the events of the units merged with
   * it, so two decisions in one batch whose conditions match each other's events would both
   * commit. When the journal has `appendConditionalBatch`, conditional units are batched among
   * themselves, only with units whose conditions match none of the batch's new events (and whose
   * new events match none of the batch's conditions): their checks against committed events are
   * then all there is to check. A batch whose check fails is written again unit by unit (all at
   * once: they cannot conflict with each other), so only the failing unit fails. Otherwise a conditional unit goes to the journal alone.
   * `span` is the unit's command span, linked from the batch's span.
   */
  append(request: AppendRequest, span?: TelemetrySpan): Promise<AppendResult> {
    if (request.condition !== undefined && this.journal.appendConditionalBatch === undefined) return this.journal.append(request);
    return new Promise<AppendResult>((resolve, reject) => {
      if (request.condition !== undefined) {
        this.conditional.push({ request, resolve, reject, span });
        this.schedule();
        return;
      }
      this.waiting.push({ request, resolve, reject, span });
      if (this.earlyFlushSize > 0 && this.waiting.length >= this.earlyFlushSize && this.inFlight < this.maxConcurrent) this.startBatch();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxConcurrent || (this.waiting.length === 0 && this.conditional.length === 0)) return;
    this.scheduled = true;
    const flush = (): void => {
      this.scheduled = false;
      this.flush();
    };
    // setImmediate lets the commands that became ready in this turn join the batch.
    if (this.windowMs > 0) setTimeout(flush, this.windowMs);
    else setImmediate(flush);
  }

  private flush(): void {
    while (this.inFlight < this.maxConcurrent && (this.waiting.length > 0 || this.conditional.length > 0)) {
      if (this.conditional.length > 0 && (this.waiting.length === 0 || this.conditionalTurn)) {
        this.conditionalTurn = false;
        this.startConditionalBatch();
      } else {
        this.conditionalTurn = true;
        this.startBatch();
      }
    }
  }

  /** Plain and conditional batches take turns for the free slots. */
  private conditionalTurn = false;

  /**
   * Writes the conditional units that cannot conflict with each other (up to `maxBatchSize`) as one
   * batch; the others wait for the next one.
   */
  private startConditionalBatch(): void {
    const batch: Unit[] = [];
    const rest: Unit[] = [];
    const streams = new Set<string>();
    const commands = new Set<string>();
    for (const unit of this.conditional) {
      if (batch.length < this.maxBatchSize && this.joins(unit, batch, streams, commands)) {
        batch.push(unit);
        for (const write of unit.request.writes) streams.add(write.streamId);
        for (const command of unit.request.commands ?? []) commands.add(command.commandId);
      } else {
        rest.push(unit);
      }
    }
    this.conditional = rest;
    this.inFlight++;
    void this.write(batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
  }

  /** Whether a conditional unit can join a batch: no shared stream or command id, no condition matching another's events. */
  private joins(unit: Unit, batch: readonly Unit[], streams: ReadonlySet<string>, commands: ReadonlySet<string>): boolean {
    const { request } = unit;
    if (request.writes.some((write) => streams.has(write.streamId))) return false;
    if ((request.commands ?? []).some((command) => commands.has(command.commandId))) return false;
    const events = request.writes.flatMap((write) => write.events);
    return batch.every((other) => {
      const otherEvents = other.request.writes.flatMap((write) => write.events);
      return (
        !otherEvents.some((event) => eventMatchesQuery(request.condition!.failIfEventsMatch, event.type, event.tags)) &&
        !events.some((event) => eventMatchesQuery(other.request.condition!.failIfEventsMatch, event.type, event.tags))
      );
    });
  }

  /** Writes what waits (up to `maxBatchSize`) as one batch; the caller checked for a free slot. */
  private startBatch(): void {
    const batch = this.waiting.splice(0, this.maxBatchSize);
    this.inFlight++;
    void this.write(batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
  }

  private async write(batch: Unit[]): Promise<void> {
    if (!this.telemetry.enabled) return this.writeBatch(batch);
    const span = this.telemetry.startCommit(batch.map((unit) => unit.span));
    try {
      await this.telemetry.runIn(span, () => this.writeBatch(batch));
    } finally {
      span.end();
    }
  }

  private async writeBatch(batch: Unit[], split = true): Promise<void> {
    if (batch[0]?.request.condition !== undefined && batch.length > 1) return this.writeConditionalBatch(batch);
    if (batch.length === 1) {
      const [unit] = batch as [Unit];
      await this.journal.append(unit.request).then(unit.resolve, unit.reject);
      return;
    }
    let combined: AppendResult;
    try {
      combined = await this.journal.append(combineAppendRequests(batch.map((unit) => unit.request)));
    } catch (error) {
      if (error instanceof ConcurrencyError || error instanceof DuplicateCommandError) {
        // One unit spoiled the batch. The units the error names (its stream, its command id) are
        // written alone, after the others, written again as one batch; should that batch fail
        // too, its units are written one by one. Each unit fails alone, with its own error.
        const named = split ? batch.filter((unit) => spoils(unit.request, error)) : [];
        const others = batch.filter((unit) => !named.includes(unit));
        if (named.length > 0 && others.length > 0) {
          await this.writeBatch(others, false);
          for (const unit of named) await this.journal.append(unit.request).then(unit.resolve, unit.reject);
        } else {
          for (const unit of batch) await this.journal.append(unit.request).then(unit.resolve, unit.reject);
        }
      } else {
        for (const unit of batch) unit.reject(error);
      }
      return;
    }
    this.resolveSlices(batch, combined);
  }

  /** Conditional units as one: on any failure (a check, a unit that cannot join) each is written alone. */
  private async writeConditionalBatch(batch: Unit[]): Promise<void> {
    let results: AppendResult[] | undefined;
    try {
      results = await this.journal.appendConditionalBatch!(batch.map((unit) => unit.request));
    } catch {
      results = undefined;
    }
    if (results === undefined) {
      // Alone, each at once: the units of a batch share no stream or command id and no condition of
      // one matches another's events, so they do not conflict with each other (each takes its own
      // decision locks). One after another, a single stale decision (PostgreSQL's feed bound trails
      // the newest commits) cost the whole batch one round trip per unit.
      await Promise.all(batch.map((unit) => this.journal.append(unit.request).then(unit.resolve, unit.reject)));
      return;
    }
    batch.forEach((unit, index) => unit.resolve(results[index]!));
  }

  private resolveSlices(batch: Unit[], combined: AppendResult): void {
    // The journal answers stream by stream in request order: hand each unit its own slice.
    let offset = 0;
    for (const unit of batch) {
      const streams: AppendedStream[] = combined.streams.slice(offset, offset + unit.request.writes.length);
      offset += unit.request.writes.length;
      unit.resolve({ streams, ...(combined.cursor === undefined ? {} : { cursor: combined.cursor }) });
    }
  }
}
