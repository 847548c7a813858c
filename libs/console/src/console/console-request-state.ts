import type { Request } from 'express';
import { CONSOLE_REQUEST_STATE } from './console.constants.js';

/** What the console learned about a request, kept on it between the guard and the controller. */
export interface ConsoleRequestState {
  /** The session cookie's value when the credentials came from it (a browser session: actions need the CSRF token). */
  session?: string;
  /** The token a login form carried (set once the application's guard accepted it). */
  loginToken?: string;
  /** The form body, read once. */
  form?: Promise<Record<string, string>>;
}

/** The console's state of a request. */
export function consoleStateOf(request: Request): ConsoleRequestState {
  return ((request as unknown as Record<symbol, ConsoleRequestState>)[CONSOLE_REQUEST_STATE] ??= {});
}
