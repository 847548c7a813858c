import { ChronicleError } from './chronicle.error.js';

/** A creating command was sent to a stream that already has events. */
export class AggregateAlreadyExistsError extends ChronicleError {
  constructor(
    readonly aggregateType: string,
    readonly aggregateId: string,
  ) {
    super(`${aggregateType} "${aggregateId}" already exists; a creating command needs a new id.`);
  }
}
