import { ChronicleError } from './chronicle.error.js';

/**
 * Thrown by aggregate command handlers and invariants when a business rule forbids the
 * command. It is an outcome, not a failure: it is recorded against the command id and
 * replayed to a retry of the same command. Subclass it for rule-specific errors.
 */
export class DomainRuleViolation extends ChronicleError {
  constructor(
    message: string,
    options?: { cause?: unknown; code?: string; details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.details = options?.details;
  }

  /** Structured facts about the violation, recorded with the outcome. */
  readonly details: Record<string, unknown> | undefined;
}
