import { ChronicleError } from './chronicle.error.js';

/** A command that does not create its aggregate was sent to a stream that has no events. */
export class AggregateNotFoundError extends ChronicleError {
  constructor(
    readonly aggregateType: string,
    readonly aggregateId: string,
  ) {
    super(
      `${aggregateType} "${aggregateId}" does not exist; create it first ` +
        '(only a handler declared with { creates: true } may target a new stream).',
    );
  }
}
