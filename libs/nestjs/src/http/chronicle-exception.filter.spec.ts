import { describe, expect, it, jest } from '@jest/globals';
import { BadRequestException, HttpException, Logger, NotFoundException, ServiceUnavailableException, type ArgumentsHost } from '@nestjs/common';
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
  UnknownCommandError,
  type RecordedEvent,
} from '@chronicle/core';
import { QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { ChronicleExceptionFilter, type ChronicleExceptionFilterOptions, type ChronicleHttpError } from './chronicle-exception.filter.js';

interface Sent {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  text: string;
}

/** The answer the filter gives to an exception, through a fake Express response. */
function answer(exception: unknown, options?: ChronicleExceptionFilterOptions, filter = new ChronicleExceptionFilter(options)): Sent {
  const sent: Sent = { status: 0, headers: {}, body: {}, text: '' };
  const response = {
    headersSent: false,
    status(code: number) {
      sent.status = code;
      return this;
    },
    setHeader(name: string, value: string) {
      sent.headers[name.toLowerCase()] = value;
    },
    send(text: string) {
      sent.text = text;
      sent.body = JSON.parse(text) as Record<string, unknown>;
      return this;
    },
  };
  const host = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  filter.catch(exception, host);
  return sent;
}

const LEAKS = /\bat \S+ \(|node_modules|SELECT |INSERT |UPDATE |QueryFailedError|creates: true|stream "|Stream "|\.ts:\d+/;

const cases: Array<[string, unknown, number, string | RegExp]> = [
  ['class-validator problems', new InvalidCommandError('Deposit', 'validation failed', ['amount must be a positive number']), 400, 'Bad Request'],
  ['an unknown aggregate', new AggregateNotFoundError('account', 'a1'), 404, 'Not Found'],
  ['a concurrent write', new ConcurrencyError('account-a1', 3, 4), 409, 'Conflict'],
  [
    'a failed append condition',
    new AppendConditionConflictError([{ types: ['account.opened'], tags: ['owner:ada'] }], null, {
      eventId: 'e1', streamId: 'account-a1', version: 1, position: 7, cursor: '7', type: 'account.opened', payload: {}, metadata: {}, tags: ['owner:ada'], occurredAt: new Date(0),
    } as unknown as RecordedEvent),
    409,
    'Conflict',
  ],
  ['a broken domain rule', new DomainRuleViolation('Insufficient funds: the balance is 5.', { code: 'InsufficientFunds' }), 422, 'Unprocessable Entity'],
  ['an existing aggregate', new AggregateAlreadyExistsError('account', 'a1'), 422, 'Unprocessable Entity'],
  ['a reused idempotency key', new IdempotencyKeyReusedError('key-1'), 422, 'Unprocessable Entity'],
  ['an overloaded gateway', new GatewayOverloadedError('gateway-queue-full', 'a1', 'the gateway queue holds 1000 commands'), 503, 'Service Unavailable'],
  ['a read-your-writes wait that timed out', new ProjectionWaitTimeoutError('projection:balances', '42', '40', 500), 503, 'Service Unavailable'],
  ['a database restarted mid-transaction', new QueryRunnerAlreadyReleasedError(), 503, 'Service Unavailable'],
  [
    'PostgreSQL shutting down',
    new QueryFailedError('SELECT 1', [], Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })),
    503,
    'Service Unavailable',
  ],
  ['an unreachable PostgreSQL', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 503, 'Service Unavailable'],
];

describe('ChronicleExceptionFilter: Chronicle errors as HTTP answers', () => {
  it.each(cases)('maps %s to %i with Nest\'s { statusCode, error, message } body', (_what, exception, status, error) => {
    const sent = answer(exception);
    expect(sent.status).toBe(status);
    expect(sent.body).toEqual({ statusCode: status, error, message: expect.anything() });
    expect(sent.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(sent.text).not.toMatch(LEAKS);
  });

  it('words each answer for an API client: the problems, the aggregate, the versions, the rule in its own words', () => {
    expect(answer(new InvalidCommandError('Deposit', 'validation failed', ['amount must be a positive number'])).body['message']).toEqual([
      'amount must be a positive number',
    ]);
    expect(answer(new InvalidCommandError('Deposit', 'it has no target id')).body['message']).toBe('The request is not a valid command.');
    expect(answer(new AggregateNotFoundError('account', 'a1')).body['message']).toBe('account "a1" does not exist.');
    expect(answer(new ConcurrencyError('account-a1', 3, 4)).body['message']).toMatch(/at version 4, not version 3\. Reload it/);
    expect(answer(new DomainRuleViolation('Insufficient funds: the balance is 5.')).body['message']).toBe('Insufficient funds: the balance is 5.');
    expect(answer(new GatewayOverloadedError('shutting-down', 'a1', 'closing')).body['message']).toBe('The service is shutting down; nothing was written. Retry later.');
  });

  it('sends Retry-After with the 503s that a retry can cure', () => {
    expect(answer(new GatewayOverloadedError('aggregate-queue-full', 'a1', 'full')).headers['retry-after']).toBe('1');
    expect(answer(new QueryRunnerAlreadyReleasedError()).headers['retry-after']).toBe('1');
    expect(answer(new ConcurrencyError('s', 1, 2)).headers['retry-after']).toBeUndefined();
  });

  it('answers an unknown error with a generic 500 and logs it, stack included, on the server', () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const secret = new Error('SELECT * FROM chronicle_events WHERE password = 42');
      const sent = answer(secret);
      expect(sent.status).toBe(500);
      expect(sent.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error.' });
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('SELECT * FROM chronicle_events'), secret.stack);
      // A programming error of the application is a 500 too: the client cannot fix it.
      expect(answer(new UnknownCommandError('Refund')).body['message']).toBe('Internal server error.');
      expect(answer('a thrown string').status).toBe(500);
    } finally {
      logged.mockRestore();
    }
  });

  it("keeps Nest's own answers for HttpExceptions, their object bodies included (a health report)", () => {
    expect(answer(new NotFoundException('Transfer t1 does not exist.')).body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Transfer t1 does not exist.' });
    const report = { status: 'error', info: {}, error: { database: { status: 'down' } }, details: { database: { status: 'down' } } };
    expect(answer(new ServiceUnavailableException(report))).toMatchObject({ status: 503, body: report });
    expect(answer(new HttpException('I am a teapot', 418)).body).toEqual({ statusCode: 418, error: "I'm a Teapot", message: 'I am a teapot' });
  });

  it('answers body-parser failures with their status and phrase only, wrapped by Nest or not: their messages can echo the input', () => {
    const parse = Object.assign(new SyntaxError('Unexpected token \'p\', "password=hunter2" is not valid JSON'), { status: 400, expose: true, type: 'entity.parse.failed' });
    expect(answer(parse).body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Bad Request.' });
    expect(answer(new BadRequestException(parse.message, { cause: parse })).body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Bad Request.' });
    const tooLarge = Object.assign(new Error('request entity too large'), { status: 413, expose: true, type: 'entity.too.large' });
    expect(answer(tooLarge).status).toBe(413);
  });

  it('does not write on a response already sent, and lets other contexts (RPC, WebSocket) handle their own errors', () => {
    const filter = new ChronicleExceptionFilter();
    const response = { headersSent: true, status: jest.fn(), setHeader: jest.fn(), send: jest.fn() };
    filter.catch(new ConcurrencyError('s', 1, 2), { getType: () => 'http', switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost);
    expect(response.send).not.toHaveBeenCalled();
    const rpc = new ConcurrencyError('s', 1, 2);
    expect(() => filter.catch(rpc, { getType: () => 'rpc' } as unknown as ArgumentsHost)).toThrow(rpc);
  });

  it('refuses an unknown format by name', () => {
    expect(() => new ChronicleExceptionFilter({ format: 'xml' as 'nest' })).toThrow(ConfigurationError);
    expect(() => new ChronicleExceptionFilter({ format: 'xml' as 'nest' })).toThrow(/format must be 'nest' or 'problem\+json', not "xml"/);
  });
});

describe('ChronicleExceptionFilter: application/problem+json (RFC 9457)', () => {
  it.each(cases)('maps %s to %i as a problem detail', (_what, exception, status, title) => {
    const sent = answer(exception, { format: 'problem+json' });
    expect(sent.status).toBe(status);
    expect(sent.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(sent.body).toMatchObject({ type: 'about:blank', title, status, detail: expect.any(String) });
    expect(sent.body).not.toHaveProperty('statusCode');
    expect(sent.text).not.toMatch(LEAKS);
  });

  it("carries a Chronicle error's code, and the validation problems as errors", () => {
    expect(answer(new DomainRuleViolation('Insufficient funds.', { code: 'InsufficientFunds' }), { format: 'problem+json' }).body).toEqual({
      type: 'about:blank',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'Insufficient funds.',
      code: 'InsufficientFunds',
    });
    const problems = ['amount must be a positive number', 'amount must be an integer'];
    expect(answer(new InvalidCommandError('Deposit', 'validation failed', problems), { format: 'problem+json' }).body).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: `2 problems: ${problems.join('; ')}`,
      errors: problems,
      code: 'InvalidCommandError',
    });
  });

  it('turns an HttpException into a problem detail too, and an unknown error into a generic one', () => {
    expect(answer(new NotFoundException('Transfer t1 does not exist.'), { format: 'problem+json' }).body).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'Transfer t1 does not exist.',
    });
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      expect(answer(new Error('boom at /srv/app.ts:12'), { format: 'problem+json' }).body).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        detail: 'Internal server error.',
      });
    } finally {
      logged.mockRestore();
    }
  });
});

describe('ChronicleExceptionFilter: extended by an application', () => {
  class PaymentDeclined extends Error {}

  class AppFilter extends ChronicleExceptionFilter {
    protected override toHttpError(exception: unknown): ChronicleHttpError {
      if (exception instanceof PaymentDeclined) return { status: 402, message: 'The payment was declined.' };
      return super.toHttpError(exception);
    }
  }

  it("maps the application's own errors and leaves Chronicle's to the library", () => {
    expect(answer(new PaymentDeclined('card 4242'), {}, new AppFilter()).body).toEqual({ statusCode: 402, error: 'Payment Required', message: 'The payment was declined.' });
    expect(answer(new ConcurrencyError('s', 1, 2), {}, new AppFilter()).status).toBe(409);
  });
});
