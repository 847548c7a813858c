import { Catch, HttpException, Inject, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ConfigurationError, InvalidArgumentError } from '@chronicle/core';
import { OperationsNotFoundError } from '../errors/operations-not-found.error.js';
import { ConsoleForbiddenError, ConsoleUnauthorizedError } from './console-errors.js';
import { loginPage, messagePage } from './console-pages.view.js';
import { ConsoleService } from './console.service.js';
import { setSecurityHeaders } from './security-headers.js';

/** Whether the requester wants HTML (a browser) rather than JSON (a script). */
export function wantsHtml(request: Request): boolean {
  return request.accepts(['html', 'json']) === 'html';
}

/**
 * Answers every error of a console route: 401 (a browser page request is sent to the login form
 * instead), 403 for a refused action, 400 for a bad id or parameter, 404 for an unknown one, 409 for
 * a request the configuration cannot serve, 500 otherwise (logged, its message not shown). HTML for
 * browsers, JSON `{ error, message }` for scripts; no data is ever part of an error answer.
 */
@Catch()
export class ConsoleExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ChronicleConsole');

  constructor(@Inject(ConsoleService) private readonly console: ConsoleService) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    if (response.headersSent) return;
    setSecurityHeaders(response);
    const base = this.console.options.path;
    const html = wantsHtml(request);
    if (exception instanceof ConsoleUnauthorizedError) {
      if (request.method === 'POST' && request.path === `${base}/login`) {
        response.status(401).type('html').send(loginPage(base, 'That token was refused.').toString());
        return;
      }
      response.setHeader('WWW-Authenticate', 'Bearer realm="chronicle-console"');
      if (request.headers['hx-request']) {
        response.setHeader('HX-Redirect', `${base}/login`);
      } else if (html && request.method === 'GET') {
        response.redirect(303, `${base}/login`);
        return;
      }
      this.send(response, html, 401, 'Unauthorized', exception.message);
      return;
    }
    const [status, title, message] = this.classify(exception);
    if (status === 500) this.logger.error(`console request ${request.method} ${request.path} failed`, exception instanceof Error ? exception.stack : String(exception));
    this.send(response, html, status, title, message);
  }

  private classify(exception: unknown): [number, string, string] {
    if (exception instanceof InvalidArgumentError) return [400, 'Bad request', exception.message];
    if (exception instanceof OperationsNotFoundError) return [404, 'Not found', exception.message];
    if (exception instanceof ConsoleForbiddenError) return [403, 'Forbidden', exception.message];
    if (exception instanceof ConfigurationError) return [409, 'Cannot do that here', exception.message];
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return [status, status === 404 ? 'Not found' : 'Error', exception.message];
    }
    return [500, 'Internal error', 'The console could not answer; the application log has the details.'];
  }

  private send(response: Response, html: boolean, status: number, title: string, message: string): void {
    response.status(status);
    if (!html) {
      response.json({ error: title, message });
      return;
    }
    const ctx = { base: this.console.options.path, csrf: '', canAct: false, readOnly: this.console.options.readOnly, refreshMs: this.console.options.refreshMs, session: false };
    response.type('html').send(messagePage(ctx, `${status} ${title}`, message, status === 401 ? { href: `${ctx.base}/login`, label: 'Sign in' } : { href: ctx.base, label: 'Overview' }).toString());
  }
}
