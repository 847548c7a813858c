import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { ChronicleTelemetry } from './chronicle-telemetry.js';

/**
 * A logger whose lines, written while a span is active (a command, a subscription step, a relay
 * publish), end with ` (trace <trace id>)` unless they already name that trace (the lines about
 * an event carry `logContext`). Lets an operator go from any line of the library to its trace.
 * Reads the active span only when a line is written and telemetry is on: nothing on the hot path.
 */
export function tracedLogger(logger: ChronicleLogger, telemetry: ChronicleTelemetry): ChronicleLogger {
  const withTrace = (message: string): string => {
    if (!telemetry.enabled) return message;
    const traceId = telemetry.activeTraceId();
    return traceId === undefined || message.includes(traceId) ? message : `${message} (trace ${traceId})`;
  };
  return {
    log: (message) => logger.log(withTrace(message)),
    warn: (message) => logger.warn(withTrace(message)),
    error: (message, stack) => logger.error(withTrace(message), stack),
  };
}
