import { validTraceContext } from './trace-context.js';

/**
 * ` (command <id>, trace <trace id>)` for a log line about work that a command caused, from the
 * metadata stored with its events; empty when there is neither. Lets an operator go from a log
 * line to the command and its trace.
 */
export function logContext(metadata: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  if (typeof metadata.commandId === 'string') parts.push(`command ${metadata.commandId}`);
  const trace = validTraceContext(metadata.traceparent);
  if (trace?.traceparent) parts.push(`trace ${trace.traceparent.slice(3, 35)}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}
