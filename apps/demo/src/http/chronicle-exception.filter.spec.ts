import type { ArgumentsHost } from '@nestjs/common';
import { QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { DemoExceptionFilter } from './chronicle-exception.filter.js';

/** The answer the filter gives to an exception, through a fake HTTP response. */
function answer(exception: unknown): { status: number; body: { statusCode: number; message: unknown } } {
  const sent: { status: number; body: { statusCode: number; message: unknown } } = { status: 0, body: { statusCode: 0, message: '' } };
  const response = {
    headersSent: false,
    status(code: number) {
      sent.status = code;
      return this;
    },
    setHeader() {},
    send(text: string) {
      sent.body = JSON.parse(text) as { statusCode: number; message: unknown };
      return this;
    },
  };
  const host = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  new DemoExceptionFilter().catch(exception, host);
  return sent;
}

describe('DemoExceptionFilter: an unreachable database is a 503', () => {
  it('maps a query runner released under a transaction (the database restarted mid-transaction) to 503, found by the reliability harness', () => {
    const { status, body } = answer(new QueryRunnerAlreadyReleasedError());
    expect(status).toBe(503);
    expect(body.message).toMatch(/database is unreachable/);
  });

  it('maps PostgreSQL shutdown and connection errors to 503, and an unknown failure to 500', () => {
    const shutdown = new QueryFailedError('SELECT 1', [], Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
    expect(answer(shutdown).status).toBe(503);
    expect(answer(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })).status).toBe(503);
    expect(answer(new Error('something else')).status).toBe(500);
  });
});
