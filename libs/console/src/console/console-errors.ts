import { ChronicleError } from '@chronicle/core';

/** No credentials, or credentials the application's guard refused: 401 (a browser is sent to the login form). */
export class ConsoleUnauthorizedError extends ChronicleError {
  constructor() {
    super('Sign in to the Chronicle console: send Authorization: Bearer <token>, or use the login form.');
  }
}

/** A console action refused: read-only console, no permission to act, or a missing or wrong CSRF token (403). */
export class ConsoleForbiddenError extends ChronicleError {}
