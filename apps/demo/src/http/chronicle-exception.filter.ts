import { Catch, HttpStatus } from '@nestjs/common';
import {
  AggregateNotFoundError,
  ConcurrencyError,
  EventDecodingError,
  IdempotencyKeyReusedError,
  UnknownEventTypeError,
} from '@chronicle/core';
import { ChronicleExceptionFilter, type ChronicleHttpError, type NestErrorBody } from '@chronicle/nestjs';

/** The JSON every error answer carries. */
export type ErrorBody = NestErrorBody;

/**
 * Chronicle's exception filter, worded for the bank's clients: accounts and ETags, the
 * `Idempotency-Key` header, the 64 KiB body limit. The mapping of errors to statuses is the
 * library's; only the wording and body-parser's failures (which the demo parses itself) are added.
 */
@Catch()
export class DemoExceptionFilter extends ChronicleExceptionFilter {
  protected override toHttpError(exception: unknown): ChronicleHttpError {
    // Nest wraps body-parser's errors; their messages can echo the input, so ours replace them.
    const parser = bodyParserFailure(exception) ?? bodyParserFailure((exception as Error | undefined)?.cause);
    if (parser) return parser;
    if (exception instanceof AggregateNotFoundError) {
      const kind = exception.aggregateType.charAt(0).toUpperCase() + exception.aggregateType.slice(1);
      return { status: HttpStatus.NOT_FOUND, message: `${kind} ${exception.aggregateId} does not exist.` };
    }
    if (exception instanceof ConcurrencyError) {
      return {
        status: HttpStatus.CONFLICT,
        message: `The account is at version ${exception.actualVersion ?? 'a later version'}, not ${exception.expectedVersion}: reload it and retry with its current ETag.`,
      };
    }
    if (exception instanceof IdempotencyKeyReusedError) {
      return { status: HttpStatus.UNPROCESSABLE_ENTITY, message: 'This Idempotency-Key was already used with a different request; use a new key for a new request.' };
    }
    if (exception instanceof EventDecodingError || exception instanceof UnknownEventTypeError) {
      return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: `The account's stored history cannot be read: ${exception.message}` };
    }
    const answer = super.toHttpError(exception);
    if (answer.status === HttpStatus.SERVICE_UNAVAILABLE && /database is unreachable/.test(String(answer.message))) {
      return { ...answer, message: 'The database is unreachable; the outcome of this request is unknown if it was a command. Retry it with the same Idempotency-Key.' };
    }
    return answer;
  }
}

/**
 * body-parser's errors carry a `type`; a body that does not inflate carries the decoder's code
 * (`Z_…` from gzip and deflate, `ERR__ERROR_…` from brotli).
 */
function bodyParserFailure(exception: unknown): ChronicleHttpError | undefined {
  const { type, code, body: text } = (exception ?? {}) as { type?: unknown; code?: unknown; body?: unknown };
  if (type === 'entity.parse.failed') {
    // The parser is strict: `null`, `"text"` or `42` are JSON, but not a JSON object.
    return { status: HttpStatus.BAD_REQUEST, message: typeof text === 'string' && isJson(text) ? 'The request body must be a JSON object.' : 'The request body is not valid JSON.' };
  }
  if (type === 'entity.too.large') return { status: HttpStatus.PAYLOAD_TOO_LARGE, message: 'The request body is larger than 64 KiB.' };
  if (type === 'encoding.unsupported') {
    return { status: HttpStatus.UNSUPPORTED_MEDIA_TYPE, message: 'The request body encoding is not supported: send it uncompressed, or gzip, deflate or br.' };
  }
  if (type === 'charset.unsupported') return { status: HttpStatus.UNSUPPORTED_MEDIA_TYPE, message: 'The request body charset is not supported: send UTF-8.' };
  if (type === 'request.aborted') return { status: HttpStatus.BAD_REQUEST, message: 'The request was aborted.' };
  if (typeof code === 'string' && /^(Z_|ERR__ERROR_)/.test(code)) {
    return { status: HttpStatus.BAD_REQUEST, message: 'The request body could not be decompressed: it does not match its Content-Encoding.' };
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
