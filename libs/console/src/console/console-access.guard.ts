import { ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { isObservable, lastValueFrom } from 'rxjs';
import { CONSOLE_APP_GUARD, CONSOLE_LOGIN, CONSOLE_PUBLIC } from './console.constants.js';
import { formOf } from './console-form.js';
import { consoleStateOf } from './console-request-state.js';
import { ConsoleForbiddenError, ConsoleUnauthorizedError } from './console-errors.js';
import { CONSOLE_SESSION_COOKIE, readCookie } from './console-session.js';
import { setSecurityHeaders } from './security-headers.js';

/**
 * Runs on every console route. Sets the security headers, refuses a login post from another site
 * (`refuseCrossSiteLogin`), presents a login cookie to the application's guard as
 * `Authorization: Bearer <token>` (a header the client sent wins), and lets the request in only
 * when the application's guard does: no credentials or refused ones
 * give `ConsoleUnauthorizedError` (401, or the login form for a browser), before any data is read.
 */
@Injectable()
export class ConsoleAccessGuard implements CanActivate {
  constructor(
    @Inject(CONSOLE_APP_GUARD) private readonly appGuard: CanActivate,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    setSecurityHeaders(http.getResponse<Response>());
    if (this.reflector.get<boolean>(CONSOLE_PUBLIC, context.getHandler())) return true;
    const state = consoleStateOf(request);
    if (this.reflector.get<boolean>(CONSOLE_LOGIN, context.getHandler())) {
      refuseCrossSiteLogin(request);
      // The login form's token is checked exactly as a script's Bearer header would be.
      const token = (await formOf(request)).token ?? '';
      if (token.length === 0 || token.length > 4096 || /[\s;,]/.test(token)) throw new ConsoleUnauthorizedError();
      request.headers.authorization = `Bearer ${token}`;
      state.loginToken = token;
    }
    const session = state.loginToken === undefined ? readCookie(request, CONSOLE_SESSION_COOKIE) : undefined;
    if (!request.headers.authorization && session) {
      request.headers.authorization = `Bearer ${session}`;
      state.session = session;
    }
    if (!request.headers.authorization) throw new ConsoleUnauthorizedError();
    let allowed: boolean;
    try {
      const answer = this.appGuard.canActivate(context);
      allowed = isObservable(answer) ? await lastValueFrom(answer) : await answer;
    } catch (error) {
      if (error instanceof UnauthorizedException) throw new ConsoleUnauthorizedError();
      if (error instanceof ForbiddenException) throw new ConsoleForbiddenError(error.message);
      throw error;
    }
    if (!allowed) throw new ConsoleUnauthorizedError();
    return true;
  }
}

/**
 * Login CSRF: a page on another site can post the login form (as `text/plain`, a simple request
 * the browser sends without asking, as a top-level navigation that stores the SameSite=Strict
 * cookie) and sign the operator in with the attacker's token; what the operator then does is done
 * as the attacker, and what they type lands in the attacker's session. So a login post is refused
 * (403) when the browser says it comes from elsewhere — `Sec-Fetch-Site: cross-site`, or an
 * `Origin` other than the request's own host (or `null`) — or is not an URL-encoded form, the only
 * body the login form sends. A client that sends neither header (curl, a script) is not a browser
 * that can be led there, and passes.
 */
function refuseCrossSiteLogin(request: Request): void {
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site') {
    throw new ConsoleForbiddenError('Login refused: the form was posted from another site (Sec-Fetch-Site: cross-site). Sign in from the console\'s own login page.');
  }
  // `Sec-Fetch-Site: same-origin` is the browser's own word (no page can set a Sec- header), and
  // holds behind a proxy that rewrites the Host header without X-Forwarded-Host (nginx's default),
  // where the Origin cannot be matched; otherwise (same-site, older browsers) the Origin decides.
  const origin = request.headers.origin;
  if (site !== 'same-origin' && origin !== undefined && !isOwnOrigin(request, origin)) {
    throw new ConsoleForbiddenError('Login refused: the form was posted from another origin than the console\'s. Sign in from the console\'s own login page.');
  }
  if (!request.is('application/x-www-form-urlencoded')) {
    throw new ConsoleForbiddenError('Login refused: the login form is posted as application/x-www-form-urlencoded. Scripts send Authorization: Bearer <token> instead.');
  }
}

/**
 * Whether `origin` names the host the request was sent to: its `Host` header, or (behind a
 * proxy that rewrites it) `X-Forwarded-Host`. The scheme is not compared: behind a TLS proxy the
 * application sees http while the browser's origin is https; a page of another site always has
 * another host. Neither header can be set by a cross-site form.
 */
function isOwnOrigin(request: Request, origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `null` (a sandboxed frame, a cross-origin redirect) or malformed
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const forwarded = request.headers['x-forwarded-host'];
  const hosts = [request.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])];
  return hosts.some((host) => host !== undefined && hostOf(url.protocol, host.trim()) === url.host);
}

/** A Host header as `URL.host` shows it for that scheme (the default port left out, the name lower-cased). */
function hostOf(protocol: string, host: string): string | undefined {
  try {
    return new URL(`${protocol}//${host}`).host;
  } catch {
    return undefined;
  }
}
