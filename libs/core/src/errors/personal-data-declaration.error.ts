import { ConfigurationError } from './configuration.error.js';

/**
 * `@PersonalData` or the `subject` of `@Event` was declared wrongly (a method, a replacement that is
 * not JSON, a personal event without a subject, a subject that is itself personal). Thrown when the
 * decorator runs, so a wrong declaration never reaches the store.
 */
export class PersonalDataDeclarationError extends ConfigurationError {}
