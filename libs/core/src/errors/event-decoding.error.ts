import { ChronicleError } from './chronicle.error.js';
import { where } from './event-location.js';

/** A stored event's payload could not be turned back into its class. */
export class EventDecodingError extends ChronicleError {
  constructor(
    readonly eventType: string,
    readonly streamId: string | undefined,
    readonly version: number | undefined,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Event "${eventType}"${where(streamId, version)} cannot be decoded: ${reason}. ` +
        'Fix the stored payload or add an upcaster for its schema version.',
      options,
    );
  }
}
