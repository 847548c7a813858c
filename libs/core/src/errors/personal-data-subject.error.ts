import { ChronicleError } from './chronicle.error.js';

/**
 * An event with personal fields has no usable data subject when it is written (the `subject`
 * property is missing or empty, or the function returned something other than a non-empty string).
 * Thrown before anything is written.
 */
export class PersonalDataSubjectError extends ChronicleError {
  constructor(
    readonly eventType: string,
    got: string,
  ) {
    super(
      `Event "${eventType}" has personal data but its subject is ${got}: the subject must be a non-empty string ` +
        '(an id, never the personal value itself). Set the subject property before emitting the event.',
    );
  }
}
