import { ChronicleError } from './chronicle.error.js';

/**
 * The command gateway refused a command because a queue was full, a recovery could not get a
 * permit in time, or the gateway is shutting down. Nothing was written; the command can be retried
 * later, on this instance or another (HTTP 503).
 */
export class GatewayOverloadedError extends ChronicleError {
  constructor(
    readonly reason: 'aggregate-queue-full' | 'gateway-queue-full' | 'recovery-permit-timeout' | 'shutting-down',
    readonly aggregateId: string,
    detail: string,
  ) {
    super(`Command for "${aggregateId}" refused (${reason}): ${detail}. Nothing was written; retry later.`);
  }
}
