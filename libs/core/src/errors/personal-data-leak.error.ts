import { ChronicleError } from './chronicle.error.js';

/**
 * An event would store a personal value in clear beside its sealed copy: one of its tags contains
 * the value of a `@PersonalData` field. Tags are stored plain (they are queried), so the event is
 * refused before anything is written. The message names the field, never the value.
 */
export class PersonalDataLeakError extends ChronicleError {
  constructor(
    readonly eventType: string,
    readonly field: string,
  ) {
    super(
      `Event "${eventType}" has a tag containing the value of its @PersonalData field "${field}": tags are stored in clear. ` +
        'Derive tags from ids, never from personal values.',
    );
  }
}
