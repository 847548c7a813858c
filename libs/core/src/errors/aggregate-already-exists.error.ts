import { ChronicleError } from './chronicle.error.js';

/** A creating command was sent to a stream that already has events. */
export class AggregateAlreadyExistsError extends ChronicleError {
  /**
   * Its `code`, fixed rather than taken from the class name (a bundler may rename classes), so an
   * application can word this rejection for its own clients: it also reaches sagas as a rejection.
   */
  static readonly CODE = 'AggregateAlreadyExistsError';

  constructor(
    readonly aggregateType: string,
    readonly aggregateId: string,
  ) {
    super(`${aggregateType} "${aggregateId}" already exists; a creating command needs a new id.`, { code: AggregateAlreadyExistsError.CODE });
  }
}
