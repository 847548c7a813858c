/** What travels with a command besides its payload. */
export interface CommandMetadata {
  /**
   * Idempotency key: a retry with the same id returns the first outcome and writes nothing.
   * Without one, the gateway generates an id for tracing only.
   */
  commandId?: string;
  /** Fail with `ConcurrencyError` unless the aggregate is at exactly this version. */
  expectedVersion?: number;
  /** @default the command id */
  correlationId?: string;
  /** @default the command id */
  causationId?: string;
  /** Tags added to every event the command produces. */
  tags?: string[];
  /**
   * W3C `traceparent` of the caller, when it is not the active OpenTelemetry context (a message
   * consumer, a worker). Stored with the events; a malformed one is ignored, never fails the command.
   * @default the active context's, when telemetry is on
   */
  traceparent?: string;
  /** W3C `tracestate` that goes with `traceparent`; dropped when longer than 512 characters. */
  tracestate?: string;
}

const METADATA = Symbol.for('chronicle.commandMetadata');

/**
 * Attaches metadata to a command object so it survives `CommandBus.execute(command)`. The property
 * is a non-enumerable symbol: it is not part of the command's payload or fingerprint.
 */
export function withCommandMetadata<C extends object>(command: C, metadata: CommandMetadata): C {
  Object.defineProperty(command, METADATA, { value: { ...metadata }, enumerable: false, configurable: true });
  return command;
}

/** The metadata attached with `withCommandMetadata`, or an empty object. */
export function getCommandMetadata(command: object): CommandMetadata {
  return ((command as Record<symbol, unknown>)[METADATA] as CommandMetadata | undefined) ?? {};
}
