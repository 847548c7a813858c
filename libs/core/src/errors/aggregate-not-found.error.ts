import { ChronicleError } from './chronicle.error.js';

/** A command that does not create its aggregate was sent to a stream that has no events. */
export class AggregateNotFoundError extends ChronicleError {
  /**
   * Its `code`, fixed rather than taken from the class name (a bundler may rename classes), so an
   * application can word this rejection for its own clients: it also reaches sagas as a rejection.
   */
  static readonly CODE = 'AggregateNotFoundError';

  constructor(
    readonly aggregateType: string,
    readonly aggregateId: string,
  ) {
    super(
      `${aggregateType} "${aggregateId}" does not exist; create it first ` +
        '(only a handler declared with { creates: true } may target a new stream).',
      { code: AggregateNotFoundError.CODE },
    );
  }
}
