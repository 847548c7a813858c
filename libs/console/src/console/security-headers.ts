import type { Response } from 'express';

/**
 * The console's Content-Security-Policy: scripts and styles only from the console's own assets (no
 * inline script, no eval), requests only to itself, never framed. An injected `<script>` or
 * `onerror` attribute would not run even if escaping failed.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Sets the console's security headers (CSP, no sniffing, no framing, no caching, no referrer). */
export function setSecurityHeaders(response: Response): void {
  response.setHeader('Content-Security-Policy', CONSOLE_CSP);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('X-Frame-Options', 'DENY');
  response.setHeader('Referrer-Policy', 'no-referrer');
  response.setHeader('Cache-Control', 'no-store');
}
