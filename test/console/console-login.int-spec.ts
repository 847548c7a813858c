import { afterAll, describe, expect, it } from '@jest/globals';
import { Injectable, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ConfigurationError } from '@chronicle/core';
import { EventSourcingModule } from '@chronicle/nestjs';
import { ChronicleConsoleModule, CONSOLE_SESSION_COOKIE, type ChronicleConsoleOptions } from '@chronicle/console';
import { Note } from './fixtures/notebook.fixture.js';

@Injectable()
class OpsGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization === 'Bearer ops';
  }
}

const apps: INestApplication[] = [];
afterAll(async () => {
  for (const app of apps) await app.close();
});

/** A console on in-memory storage; `trustProxy` is Express's setting of the application. */
async function boot(options: Partial<ChronicleConsoleOptions> = {}, trustProxy?: string): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsModule.forRoot(),
      EventSourcingModule.forRoot({ aggregates: [Note], storage: 'in-memory' }),
      ChronicleConsoleModule.forRoot({ guard: OpsGuard, ...options }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  if (trustProxy !== undefined) (app.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void }).set('trust proxy', trustProxy);
  await app.init();
  apps.push(app);
  return app;
}

/** The session cookie a login sets, or undefined. */
const sessionCookieOf = (response: request.Response): string | undefined =>
  ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((cookie) => cookie.startsWith(`${CONSOLE_SESSION_COOKIE}=`));

describe('the console session cookie: Secure as the secureCookie option says', () => {
  it("'auto' (the default) marks it Secure over HTTPS: behind a TLS proxy only once Express trusts that proxy", async () => {
    const trusting = await boot({}, 'loopback');
    const viaProxy = await request(trusting.getHttpServer()).post('/chronicle/login').set('X-Forwarded-Proto', 'https').type('form').send({ token: 'ops' });
    expect(viaProxy.status).toBe(303);
    expect(sessionCookieOf(viaProxy)).toMatch(/;\s*Secure(;|$)/);
    const plain = await request(trusting.getHttpServer()).post('/chronicle/login').type('form').send({ token: 'ops' });
    expect(sessionCookieOf(plain)).not.toMatch(/Secure/);

    // Without trust proxy, X-Forwarded-Proto is anyone's claim and does not count.
    const untrusting = await boot();
    const ignored = await request(untrusting.getHttpServer()).post('/chronicle/login').set('X-Forwarded-Proto', 'https').type('form').send({ token: 'ops' });
    expect(sessionCookieOf(ignored)).not.toMatch(/Secure/);
  });

  it('true marks it Secure whatever the request says, false never', async () => {
    const always = await boot({ secureCookie: true });
    const login = await request(always.getHttpServer()).post('/chronicle/login').type('form').send({ token: 'ops' });
    expect(sessionCookieOf(login)).toMatch(/;\s*Secure(;|$)/);
    const never = await boot({ secureCookie: false }, 'loopback');
    const viaProxy = await request(never.getHttpServer()).post('/chronicle/login').set('X-Forwarded-Proto', 'https').type('form').send({ token: 'ops' });
    expect(sessionCookieOf(viaProxy)).not.toMatch(/Secure/);
  });

  it('refuses a secureCookie other than true, false or auto', () => {
    expect(() => ChronicleConsoleModule.forRoot({ guard: OpsGuard, secureCookie: 'yes' as never })).toThrow(ConfigurationError);
    expect(() => ChronicleConsoleModule.forRoot({ guard: OpsGuard, secureCookie: 'yes' as never })).toThrow(/secureCookie must be true, false or 'auto'/);
  });
});
