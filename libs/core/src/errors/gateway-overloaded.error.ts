import { ChronicleError } from './chronicle.error.js';

/**
 * The command gateway refused a command because a queue was full or a recovery could not get a
 * permit in time. Nothing was written; the command can be retried later (HTTP 503).
 */
export class GatewayOverloadedError extends ChronicleError {
  constructor(
    readonly reason: 'aggregate-queue-full' | 'gateway-queue-full' | 'recovery-permit-timeout',
    readonly aggregateId: string,
    detail: string,
  ) {
    super(`Command for "${aggregateId}" refused (${reason}): ${detail}. Nothing was written; retry later.`);
  }
}
