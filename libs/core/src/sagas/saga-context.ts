import type { CommandMetadata } from '../commands/command-metadata.js';
import type { CommandResult } from '../commands/command-result.js';
import { isRecordableRejection } from '../commands/recorded-error.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { IdempotencyKeyReusedError } from '../errors/idempotency-key-reused.error.js';
import { InvalidCommandError } from '../errors/invalid-command.error.js';
import { UnknownCommandError } from '../errors/unknown-command.error.js';
import type { JsonValue } from '../events/json.js';
import type { RecordedEvent } from '../events/recorded-event.js';
import type { SagaDeadline } from '../ports/saga-store.port.js';

/**
 * How a dispatched command ended, as far as the saga can tell:
 * - `accepted`: it committed (or had committed before: a replay of its recorded outcome);
 * - `rejected`: the aggregate refused it (a domain rule, an unknown or existing aggregate, invalid
 *   input); the rejection is recorded under the command id, so it is final;
 * - `unknown`: it may or may not have run (overload, a database or network failure). Send it again
 *   later under the same key (a deadline does that): the command id makes the resend safe.
 */
export type SagaCommandOutcome =
  | { status: 'accepted'; result: CommandResult }
  | { status: 'rejected'; error: Error }
  | { status: 'unknown'; error: Error };

/** Sends a command through the application's command bus. */
export type SagaCommandDispatcher = (command: object, metadata: CommandMetadata) => Promise<CommandResult>;

/** What started the handling: an event from the feed, or a deadline. */
export type SagaTrigger = { kind: 'event'; envelope: RecordedEvent } | { kind: 'deadline'; deadline: SagaDeadline };

/** Options of {@link SagaContext.dispatch}. */
export interface SagaDispatchOptions {
  /**
   * The step's stable key within the instance: the command id is `<saga>:<correlation id>:<key>`,
   * so every resend of the step (a redelivered event, a deadline) is deduplicated by the gateway.
   * @default `<trigger id>#<n>` (the n-th dispatch while handling this event or deadline)
   */
  key?: string;
}

/** A saga handler's view of its instance: state to change, commands to send, deadlines to set. */
export interface SagaContext<S = Record<string, JsonValue>> {
  readonly sagaName: string;
  readonly correlationId: string;
  /** The instance's state: change it in place; it is saved when the handler returns. */
  state: S;
  readonly trigger: SagaTrigger;
  /** The time, from the engine's clock (controllable in the test kit). */
  now(): Date;
  /** Sends a command with a deterministic command id and reports how it ended. */
  dispatch(command: object, options?: SagaDispatchOptions): Promise<SagaCommandOutcome>;
  /** Sets (or moves) the deadline `name` of this instance. */
  schedule(name: string, at: Date | { afterMs: number }, payload?: JsonValue): void;
  cancel(name: string): void;
  /** Ends the instance: it stays as a tombstone (status `completed`), its deadlines are cancelled. */
  complete(): void;
}

/** Classifies a command failure for a saga. */
export function sagaOutcomeOf(error: unknown): SagaCommandOutcome {
  if (error instanceof UnknownCommandError || error instanceof IdempotencyKeyReusedError) {
    // A programming error: no resend can fix it. Fail the handler, so the message is parked.
    throw error;
  }
  const failure = error instanceof Error ? error : new Error(String(error));
  if (isRecordableRejection(error) || error instanceof InvalidCommandError) return { status: 'rejected', error: failure };
  return { status: 'unknown', error: failure };
}

/** The engine's implementation of `SagaContext`; collects the handler's decisions. */
export class SagaContextImpl<S> implements SagaContext<S> {
  readonly scheduled = new Map<string, SagaDeadline>();
  readonly cancelled = new Set<string>();
  completed = false;
  private dispatches = 0;

  constructor(
    readonly sagaName: string,
    readonly correlationId: string,
    public state: S,
    readonly trigger: SagaTrigger,
    private readonly deps: { dispatcher: SagaCommandDispatcher; now: () => Date },
  ) {}

  now(): Date {
    return this.deps.now();
  }

  async dispatch(command: object, options: SagaDispatchOptions = {}): Promise<SagaCommandOutcome> {
    if (this.completed) throw new ConfigurationError(`Saga "${this.sagaName}" instance "${this.correlationId}" dispatched a command after complete().`);
    this.dispatches += 1;
    const key = options.key ?? `${this.triggerId()}#${this.dispatches}`;
    const causationId = this.trigger.kind === 'event' ? this.trigger.envelope.eventId : this.trigger.deadline.id;
    const correlationId =
      this.trigger.kind === 'event' ? (this.trigger.envelope.metadata.correlationId ?? this.correlationId) : this.correlationId;
    try {
      const result = await this.deps.dispatcher(command, { commandId: `${this.sagaName}:${this.correlationId}:${key}`, correlationId, causationId });
      return { status: 'accepted', result };
    } catch (error) {
      return sagaOutcomeOf(error);
    }
  }

  schedule(name: string, at: Date | { afterMs: number }, payload: JsonValue = null): void {
    const dueAt = at instanceof Date ? at : new Date(this.deps.now().getTime() + at.afterMs);
    if (Number.isNaN(dueAt.getTime())) throw new ConfigurationError(`Saga "${this.sagaName}": deadline "${name}" has no valid time.`);
    this.cancelled.delete(name);
    this.scheduled.set(name, {
      id: `${this.sagaName}:${this.correlationId}:${name}`,
      sagaName: this.sagaName,
      correlationId: this.correlationId,
      name,
      dueAt,
      payload,
      attempts: 0,
      lastError: null,
    });
  }

  cancel(name: string): void {
    this.scheduled.delete(name);
    this.cancelled.add(name);
  }

  complete(): void {
    this.completed = true;
  }

  private triggerId(): string {
    return this.trigger.kind === 'event'
      ? this.trigger.envelope.eventId
      : `${this.trigger.deadline.id}@${this.trigger.deadline.dueAt.getTime()}`;
  }
}
