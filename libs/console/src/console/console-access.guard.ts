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
 * Runs on every console route. Sets the security headers, presents a login cookie to the
 * application's guard as `Authorization: Bearer <token>` (a header the client sent wins), and
 * lets the request in only when the application's guard does: no credentials or refused ones
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

