import { STATUS_CODES } from 'node:http';
import { Catch, HttpException, HttpStatus, Inject, Logger, Optional, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import {
  AggregateAlreadyExistsError,
  AggregateNotFoundError,
  AppendConditionConflictError,
  ConcurrencyError,
  ConfigurationError,
  DomainRuleViolation,
  GatewayOverloadedError,
  IdempotencyKeyReusedError,
  InvalidCommandError,
  ProjectionWaitTimeoutError,
} from '@chronicle/core';

/** Injection token of {@link ChronicleExceptionFilterOptions}, for `{ provide: APP_FILTER, useClass: ChronicleExceptionFilter }`. */
export const CHRONICLE_EXCEPTION_FILTER_OPTIONS = Symbol('CHRONICLE_EXCEPTION_FILTER_OPTIONS');

/** Options of {@link ChronicleExceptionFilter}. */
export interface ChronicleExceptionFilterOptions {
  /**
   * The shape of error answers: `'nest'` is Nest's usual `{ statusCode, error, message }` as
   * `application/json`; `'problem+json'` is an RFC 9457 problem detail
   * (`{ type, title, status, detail }`, plus `errors` for validation problems and `code` for a
   * Chronicle error) as `application/problem+json`.
   * @default 'nest'
   */
  format?: 'nest' | 'problem+json';
}

/** What an exception means over HTTP: a status and a message safe to show to the client. */
export interface ChronicleHttpError {
  /** The HTTP status. */
  status: number;
  /** One message, or the list of validation problems. Never a stack, SQL or library internals. */
  message: string | string[];
  /** A stable machine-readable code (a Chronicle error's `code`), shown in problem details. */
  code?: string;
  /** Seconds after which a retry may succeed, sent as `Retry-After` (overload, unavailable storage). */
  retryAfterSeconds?: number;
  /**
   * A body to send as it is in the `'nest'` format: an `HttpException`'s own object (a
   * `@nestjs/terminus` health report, say), as Nest's own filter sends it.
   */
  body?: object;
}

/** Nest's usual error body. */
export interface NestErrorBody {
  /** The HTTP status. */
  statusCode: number;
  /** The status phrase ("Not Found"). */
  error: string;
  /** What went wrong, or the list of validation problems. */
  message: string | string[];
}

/** An RFC 9457 problem detail, as the filter writes it with `format: 'problem+json'`. */
export interface ProblemDetails {
  /** `about:blank`: the status says it all. */
  type: string;
  /** The status phrase. */
  title: string;
  /** The HTTP status. */
  status: number;
  /** What went wrong. */
  detail: string;
  /** The validation problems, one a line, when there are several. */
  errors?: string[];
  /** A Chronicle error's stable code (`ConcurrencyError`, a domain rule's own code). */
  code?: string;
}

/** The parts of an HTTP response the filter uses (Express's and Fastify's both have them under these names or close). */
interface HttpResponse {
  headersSent?: boolean;
  status(code: number): HttpResponse;
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
  json?(body: unknown): unknown;
  send(body: unknown): unknown;
}

/**
 * Driver codes and messages that mean "the database is not reachable now". TypeORM's "Query
 * runner already released" belongs here: it releases a runner whose connection broke
 * mid-transaction (a database restart), and the transaction's next statement meets it.
 */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300', 'SQLITE_BUSY']);
const UNAVAILABLE_MESSAGES =
  /Query runner already released|Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|database is locked|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/**
 * Answers every error of an HTTP application with its HTTP meaning, and never with a stack, SQL or
 * a library's internal wording:
 *
 * | error | status |
 * |---|---|
 * | `InvalidCommandError` (class-validator problems) | 400 |
 * | `AggregateNotFoundError` | 404 |
 * | `ConcurrencyError`, `AppendConditionConflictError` | 409 |
 * | `DomainRuleViolation` (its own message and code), `AggregateAlreadyExistsError`, `IdempotencyKeyReusedError` | 422 |
 * | `GatewayOverloadedError`, `ProjectionWaitTimeoutError`, an unreachable database | 503 with `Retry-After` |
 * | Nest's `HttpException` | its own status and body, as Nest answers it |
 * | a 4xx from body parsing (`http-errors` with `expose`, wrapped or not) | its status, with the status phrase |
 * | anything else | 500 "Internal server error.", logged with its stack |
 *
 * ```ts
 * app.useGlobalFilters(new ChronicleExceptionFilter());                            // { statusCode, error, message }
 * app.useGlobalFilters(new ChronicleExceptionFilter({ format: 'problem+json' }));  // RFC 9457
 * ```
 *
 * To add an application's own mappings, extend it and override {@link toHttpError}, calling
 * `super.toHttpError` for the rest.
 */
@Catch()
export class ChronicleExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ChronicleExceptionFilter.name);
  private readonly format: 'nest' | 'problem+json';

  constructor(@Optional() @Inject(CHRONICLE_EXCEPTION_FILTER_OPTIONS) options: ChronicleExceptionFilterOptions = {}) {
    const format = options?.format ?? 'nest';
    if (format !== 'nest' && format !== 'problem+json') {
      throw new ConfigurationError(`ChronicleExceptionFilter: format must be 'nest' or 'problem+json', not ${JSON.stringify(format)}.`);
    }
    this.format = format;
  }

  /** Writes the answer of `exception` on the HTTP response of `host` (other contexts rethrow). */
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const response = host.switchToHttp().getResponse<HttpResponse>();
    const error = this.toHttpError(exception);
    if (error.status >= 500 && error.status !== HttpStatus.SERVICE_UNAVAILABLE) {
      const failure = exception instanceof Error ? exception : new Error(String(exception));
      this.logger.error(`Unhandled error: ${failure.message}`, failure.stack);
    }
    if (error.retryAfterSeconds !== undefined) setHeader(response, 'Retry-After', String(error.retryAfterSeconds));
    if (this.format === 'problem+json') {
      this.send(response, error.status, 'application/problem+json; charset=utf-8', toProblemDetails(error));
    } else if (error.body !== undefined) {
      this.send(response, error.status, 'application/json; charset=utf-8', error.body);
    } else {
      this.send(response, error.status, 'application/json; charset=utf-8', toNestBody(error));
    }
  }

  /**
   * What `exception` means over HTTP. Override it to map an application's own errors (or to word
   * Chronicle's for its clients), and call `super.toHttpError(exception)` for everything else.
   */
  protected toHttpError(exception: unknown): ChronicleHttpError {
    // Body parsing fails with http-errors, which Nest may wrap in an HttpException; their
    // messages can echo the input, so only their status is kept.
    const parsing = clientErrorStatus(exception) ?? clientErrorStatus((exception as { cause?: unknown } | undefined)?.cause);
    if (parsing !== undefined) return { status: parsing, message: `${phrase(parsing)}.` };
    if (exception instanceof HttpException) {
      const answer = exception.getResponse();
      if (typeof answer === 'object' && answer !== null) {
        const message = 'message' in answer ? (answer as { message: string | string[] }).message : exception.message;
        return { status: exception.getStatus(), message, body: answer };
      }
      return { status: exception.getStatus(), message: exception.message };
    }
    if (exception instanceof InvalidCommandError) {
      const message = exception.problems.length > 0 ? exception.problems : 'The request is not a valid command.';
      return { status: HttpStatus.BAD_REQUEST, message, code: exception.code };
    }
    if (exception instanceof AggregateNotFoundError) {
      return { status: HttpStatus.NOT_FOUND, message: `${exception.aggregateType} "${exception.aggregateId}" does not exist.`, code: exception.code };
    }
    if (exception instanceof ConcurrencyError) {
      const actual = exception.actualVersion === undefined ? 'a later version' : `version ${exception.actualVersion}`;
      return {
        status: HttpStatus.CONFLICT,
        message: `It changed meanwhile: it is at ${actual}, not version ${exception.expectedVersion}. Reload it and retry against its current version.`,
        code: exception.code,
      };
    }
    if (exception instanceof AppendConditionConflictError) {
      // Its own message names the query and the conflicting event's stream: internals, not for the client.
      return {
        status: HttpStatus.CONFLICT,
        message: 'The facts this decision was made on changed meanwhile; nothing was written. Retry the request.',
        code: exception.code,
      };
    }
    if (exception instanceof IdempotencyKeyReusedError) {
      return {
        status: HttpStatus.UNPROCESSABLE_ENTITY,
        message: 'This idempotency key was already used for a different request; a retry must repeat the request exactly, a new request needs a new key.',
        code: exception.code,
      };
    }
    if (exception instanceof AggregateAlreadyExistsError) {
      return { status: HttpStatus.UNPROCESSABLE_ENTITY, message: `${exception.aggregateType} "${exception.aggregateId}" already exists.`, code: exception.code };
    }
    if (exception instanceof DomainRuleViolation) {
      // The application's own rule, in its own words.
      return { status: HttpStatus.UNPROCESSABLE_ENTITY, message: exception.message, code: exception.code };
    }
    if (exception instanceof GatewayOverloadedError) {
      const why = exception.reason === 'shutting-down' ? 'is shutting down' : 'is overloaded';
      return { status: HttpStatus.SERVICE_UNAVAILABLE, message: `The service ${why}; nothing was written. Retry later.`, code: exception.code, retryAfterSeconds: 1 };
    }
    if (exception instanceof ProjectionWaitTimeoutError) {
      return { status: HttpStatus.SERVICE_UNAVAILABLE, message: 'The data is not up to date yet. Retry later.', code: exception.code, retryAfterSeconds: 1 };
    }
    if (storageUnavailable(exception)) {
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        message: 'The database is unreachable; if this was a command its outcome is unknown: retry it with the same idempotency key.',
        retryAfterSeconds: 1,
      };
    }
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'Internal server error.' };
  }

  private send(response: HttpResponse, status: number, contentType: string, body: unknown): void {
    if (response.headersSent) return;
    response.status(status);
    setHeader(response, 'Content-Type', contentType);
    response.send(JSON.stringify(body));
  }
}

function setHeader(response: HttpResponse, name: string, value: string): void {
  if (typeof response.setHeader === 'function') response.setHeader(name, value);
  else response.header?.(name, value);
}

function phrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

function toNestBody(error: ChronicleHttpError): NestErrorBody {
  return { statusCode: error.status, error: phrase(error.status), message: error.message };
}

function toProblemDetails(error: ChronicleHttpError): ProblemDetails {
  const messages = Array.isArray(error.message) ? error.message : [error.message];
  return {
    type: 'about:blank',
    title: phrase(error.status),
    status: error.status,
    detail: messages.length === 1 ? (messages[0] ?? phrase(error.status)) : `${messages.length} problems: ${messages.join('; ')}`,
    ...(messages.length > 1 ? { errors: messages } : {}),
    ...(error.code === undefined ? {} : { code: error.code }),
  };
}

/**
 * The status of a client error raised by body parsing (body-parser and raw-body throw
 * `http-errors` with `expose: true`). Their messages can echo the input, so only the status is kept.
 */
function clientErrorStatus(exception: unknown): number | undefined {
  const { expose, status } = (exception ?? {}) as { expose?: unknown; status?: unknown };
  return expose === true && typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

function storageUnavailable(exception: unknown): boolean {
  for (let error = exception as { code?: unknown; message?: unknown; cause?: unknown; driverError?: unknown } | undefined, depth = 0; error && depth < 5; depth++) {
    if (typeof error.code === 'string' && UNAVAILABLE_CODES.has(error.code)) return true;
    if (typeof error.message === 'string' && UNAVAILABLE_MESSAGES.test(error.message)) return true;
    error = (error.driverError ?? error.cause) as typeof error;
  }
  return false;
}
