import { ChronicleError } from './chronicle.error.js';
import { where } from './event-location.js';

/** A stored event names a type that no registered event class declares. */
export class UnknownEventTypeError extends ChronicleError {
  constructor(
    readonly eventType: string,
    readonly streamId: string | undefined,
    readonly version: number | undefined,
  ) {
    super(
      `Event type "${eventType}"${where(streamId, version)} is not registered; ` +
        'register its class (@Event) with an aggregate or in EventSourcingModule options, ' +
        'or add an upcaster that renames it.',
    );
  }
}
