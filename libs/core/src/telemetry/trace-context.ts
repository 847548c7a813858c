/** A W3C trace context as strings: what Chronicle stores in event metadata and puts in message headers. */
export interface TraceContextCarrier {
  /** `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. */
  traceparent?: string;
  /** Vendor entries, at most {@link MAX_TRACESTATE_LENGTH} characters. */
  tracestate?: string;
}

/**
 * The longest `tracestate` kept. W3C asks propagators to pass at least 512 characters and allows
 * them to drop longer values; Chronicle drops them so an oversized header cannot bloat every event.
 */
export const MAX_TRACESTATE_LENGTH = 512;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/** Printable ASCII without the characters W3C forbids in list members (`,` separates them). */
const TRACESTATE = /^[\x20-\x7e]*$/;

/**
 * The trace context of a `traceparent` and `tracestate` pair, or undefined when the traceparent is
 * missing or malformed (then the tracestate means nothing either). A tracestate that is too long
 * or not printable ASCII is dropped alone. Never throws: trace headers come from outside and a bad
 * one must not fail the work it travels with.
 */
export function validTraceContext(traceparent: unknown, tracestate?: unknown): TraceContextCarrier | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = TRACEPARENT.exec(traceparent);
  if (!match || match[1] === ZERO_TRACE_ID || traceparent.slice(36, 52) === ZERO_SPAN_ID) return undefined;
  if (typeof tracestate === 'string' && tracestate.length > 0 && tracestate.length <= MAX_TRACESTATE_LENGTH && TRACESTATE.test(tracestate)) {
    return { traceparent, tracestate };
  }
  return { traceparent };
}

/**
 * The headers a publisher puts on the broker message of an outbox entry: the relay's publish span
 * when tracing is on, else the context stored with the event (when valid). Empty without one.
 */
export function outboxTraceHeaders(message: { traceContext?: TraceContextCarrier; metadata: Readonly<Record<string, unknown>> }): {
  traceparent?: string;
  tracestate?: string;
} {
  const source = message.traceContext ?? message.metadata;
  return validTraceContext(source?.traceparent, source?.tracestate) ?? {};
}
