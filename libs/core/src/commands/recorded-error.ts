import { AggregateAlreadyExistsError } from '../errors/aggregate-already-exists.error.js';
import { AggregateNotFoundError } from '../errors/aggregate-not-found.error.js';
import { DomainRuleViolation } from '../errors/domain-rule-violation.error.js';
import type { RecordedError } from '../ports/journal.port.js';

/** Errors that are outcomes (recorded and replayed), as opposed to failures (retried). */
export function isRecordableRejection(error: unknown): error is Error & { code?: string } {
  return (
    error instanceof DomainRuleViolation ||
    error instanceof AggregateNotFoundError ||
    error instanceof AggregateAlreadyExistsError
  );
}

/** The stored form of a rejection. */
export function recordError(error: Error & { code?: string; details?: Record<string, unknown> }): RecordedError {
  const details: Record<string, unknown> = { ...(error.details ?? {}) };
  if (error instanceof AggregateNotFoundError || error instanceof AggregateAlreadyExistsError) {
    details.aggregateType = error.aggregateType;
    details.aggregateId = error.aggregateId;
  }
  return {
    name: error.name,
    code: error.code ?? error.name,
    message: error.message,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}

/**
 * Rebuilds a recorded rejection for a replayed command. Library errors come back as their own
 * class; an application's `DomainRuleViolation` subclass comes back as a `DomainRuleViolation`
 * with the original `name`, `code`, message and details.
 */
export function reviveError(recorded: RecordedError): Error {
  const details = recorded.details ?? {};
  let error: Error;
  if (recorded.name === AggregateNotFoundError.name) {
    error = new AggregateNotFoundError(String(details.aggregateType), String(details.aggregateId));
  } else if (recorded.name === AggregateAlreadyExistsError.name) {
    error = new AggregateAlreadyExistsError(String(details.aggregateType), String(details.aggregateId));
  } else {
    error = new DomainRuleViolation(recorded.message, {
      code: recorded.code,
      details: recorded.details,
    });
    error.name = recorded.name;
  }
  Object.defineProperty(error, 'replayed', { value: true, enumerable: false });
  return error;
}
