import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** Name of the console's session cookie: it holds the token given to the login form. */
export const CONSOLE_SESSION_COOKIE = 'chronicle_console';

/** The value of one cookie of the request, or undefined. */
export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0 || part.slice(0, index).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(index + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The CSRF token of a session: an HMAC of its cookie, so it is bound to that session and needs no storage. */
export function csrfTokenFor(secret: string, session: string): string {
  return createHmac('sha256', secret).update(`chronicle-console-csrf:${session}`).digest('base64url');
}

/** Compares a submitted token with the session's, in constant time. */
export function csrfTokenMatches(secret: string, session: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string' || submitted.length === 0) return false;
  const expected = Buffer.from(csrfTokenFor(secret, session));
  const given = Buffer.from(submitted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The `Set-Cookie` value of the session cookie: HttpOnly, SameSite=Strict, scoped to the console's path, Secure when `secure` (the `secureCookie` option). */
export function sessionCookie(path: string, value: string, secure: boolean, maxAgeSeconds?: number): string {
  return [
    `${CONSOLE_SESSION_COOKIE}=${encodeURIComponent(value)}`,
    `Path=${path}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
    ...(maxAgeSeconds === undefined ? [] : [`Max-Age=${maxAgeSeconds}`]),
  ].join('; ');
}
