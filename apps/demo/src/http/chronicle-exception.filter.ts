import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, ServiceUnavailableException, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import {
  AggregateAlreadyExistsError,
  AggregateNotFoundError,
  ConcurrencyError,
  DomainRuleViolation,
  EventDecodingError,
  GatewayOverloadedError,
  IdempotencyKeyReusedError,
  InvalidCommandError,
  UnknownEventTypeError,
} from '@chronicle/core';

/** The JSON every error answer carries. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/**
 * Error codes and messages of database drivers that mean "the database is not reachable now".
 * TypeORM's "Query runner already released" belongs here: it releases a runner whose connection
 * broke mid-transaction (a database restart), and the transaction's next statement meets it.
 */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '53300', 'SQLITE_BUSY']);
const UNAVAILABLE_MESSAGES = /Query runner already released|Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|database is locked|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/**
 * Maps every error to `{ statusCode, error, message }` without stacks or SQL: Chronicle's errors to
 * their HTTP meaning, body-parser failures to 400/413, an unreachable database to 503, anything
 * else to a logged 500.
 */
@Catch()
export class ChronicleExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ChronicleExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    // A failing GET /health is a 503 whose body is the health report: it says what is down.
    const report = healthReport(exception);
    if (report) {
      if (!response.headersSent) response.status(HttpStatus.SERVICE_UNAVAILABLE).json(report);
      return;
    }
    const body = this.toBody(exception);
    if (body.statusCode >= 500 && body.statusCode !== HttpStatus.SERVICE_UNAVAILABLE) {
      this.logger.error(`Unhandled error: ${(exception as Error)?.message}`, (exception as Error)?.stack);
    }
    if (!response.headersSent) response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    // Nest wraps body-parser's errors; their messages can echo the input, so ours replace them.
    const parser = bodyParserFailure(exception) ?? bodyParserFailure((exception as Error | undefined)?.cause);
    if (parser) return parser;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const answer = exception.getResponse();
      const message =
        typeof answer === 'object' && answer !== null && 'message' in answer ? (answer as { message: string | string[] }).message : exception.message;
      return body(status, message);
    }
    if (exception instanceof InvalidCommandError) {
      return body(HttpStatus.BAD_REQUEST, exception.problems.length > 0 ? exception.problems : exception.message);
    }
    if (exception instanceof AggregateNotFoundError) {
      const kind = exception.aggregateType.charAt(0).toUpperCase() + exception.aggregateType.slice(1);
      return body(HttpStatus.NOT_FOUND, `${kind} ${exception.aggregateId} does not exist.`);
    }
    if (exception instanceof ConcurrencyError) {
      return body(HttpStatus.CONFLICT, `The account is at version ${exception.actualVersion ?? 'a later version'}, not ${exception.expectedVersion}: reload it and retry with its current ETag.`);
    }
    if (exception instanceof IdempotencyKeyReusedError) {
      return body(HttpStatus.UNPROCESSABLE_ENTITY, 'This Idempotency-Key was already used with a different request; use a new key for a new request.');
    }
    if (exception instanceof AggregateAlreadyExistsError || exception instanceof DomainRuleViolation) {
      return body(HttpStatus.UNPROCESSABLE_ENTITY, exception.message);
    }
    if (exception instanceof GatewayOverloadedError) {
      const why = exception.reason === 'shutting-down' ? 'is shutting down' : 'is overloaded';
      return body(HttpStatus.SERVICE_UNAVAILABLE, `The service ${why}; nothing was written. Retry later.`);
    }
    if (exception instanceof EventDecodingError || exception instanceof UnknownEventTypeError) {
      return body(HttpStatus.INTERNAL_SERVER_ERROR, `The account's stored history cannot be read: ${exception.message}`);
    }
    if (databaseUnavailable(exception)) {
      return body(HttpStatus.SERVICE_UNAVAILABLE, 'The database is unreachable; the outcome of this request is unknown if it was a command. Retry it with the same Idempotency-Key.');
    }
    return body(HttpStatus.INTERNAL_SERVER_ERROR, 'Internal server error.');
  }
}

/** The report `@nestjs/terminus` throws in a 503 when a check is down: `{ status, info, error, details }`. */
function healthReport(exception: unknown): object | undefined {
  if (!(exception instanceof ServiceUnavailableException)) return undefined;
  const answer = exception.getResponse();
  return typeof answer === 'object' && answer !== null && 'status' in answer && 'details' in answer ? answer : undefined;
}

function body(statusCode: number, message: string | string[]): ErrorBody {
  const error = (HttpStatus[statusCode] ?? 'Error')
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
  return { statusCode, error, message };
}

/**
 * body-parser's errors carry a `type`; a body that does not inflate carries the decoder's code
 * (`Z_…` from gzip and deflate, `ERR__ERROR_…` from brotli).
 */
function bodyParserFailure(exception: unknown): ErrorBody | undefined {
  const { type, code, body: text } = (exception ?? {}) as { type?: unknown; code?: unknown; body?: unknown };
  if (type === 'entity.parse.failed') {
    // The parser is strict: `null`, `"text"` or `42` are JSON, but not a JSON object.
    return body(HttpStatus.BAD_REQUEST, typeof text === 'string' && isJson(text) ? 'The request body must be a JSON object.' : 'The request body is not valid JSON.');
  }
  if (type === 'entity.too.large') return body(HttpStatus.PAYLOAD_TOO_LARGE, 'The request body is larger than 64 KiB.');
  if (type === 'encoding.unsupported') return body(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'The request body encoding is not supported: send it uncompressed, or gzip, deflate or br.');
  if (type === 'charset.unsupported') return body(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'The request body charset is not supported: send UTF-8.');
  if (type === 'request.aborted') return body(HttpStatus.BAD_REQUEST, 'The request was aborted.');
  if (typeof code === 'string' && /^(Z_|ERR__ERROR_)/.test(code)) {
    return body(HttpStatus.BAD_REQUEST, 'The request body could not be decompressed: it does not match its Content-Encoding.');
  }
  return undefined;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function databaseUnavailable(exception: unknown): boolean {
  for (let error = exception as { code?: unknown; message?: unknown; cause?: unknown; driverError?: unknown } | undefined, depth = 0; error && depth < 5; depth++) {
    if (typeof error.code === 'string' && UNAVAILABLE_CODES.has(error.code)) return true;
    if (typeof error.message === 'string' && UNAVAILABLE_MESSAGES.test(error.message)) return true;
    error = (error.driverError ?? error.cause) as typeof error;
  }
  return false;
}
