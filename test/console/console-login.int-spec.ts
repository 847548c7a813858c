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

describe('the console login refuses a post from another site (login CSRF)', () => {
  it('refuses (403, no cookie) a form another site posts: Sec-Fetch-Site cross-site, a foreign or null Origin, a text/plain body', async () => {
    const app = await boot();
    const login = () => request(app.getHttpServer()).post('/chronicle/login');
    // What <form enctype="text/plain" action="https://ops.example/chronicle/login"> on evil.example sends.
    const plain = await login().set('Origin', 'https://evil.example').set('Sec-Fetch-Site', 'cross-site').set('Content-Type', 'text/plain').send('token=ops');
    expect([plain.status, sessionCookieOf(plain)]).toEqual([403, undefined]);
    expect(plain.text).toContain('Login refused: the form was posted from another site');
    const form = await login().set('Sec-Fetch-Site', 'cross-site').type('form').send({ token: 'ops' });
    expect([form.status, sessionCookieOf(form)]).toEqual([403, undefined]);
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1.evil.example']) {
      const foreign = await login().set('Origin', origin).type('form').send({ token: 'ops' });
      expect([origin, foreign.status, sessionCookieOf(foreign)]).toEqual([origin, 403, undefined]);
      expect(foreign.text).toContain('posted from another origin');
    }
    // Only the form's own encoding: a text/plain or JSON body is refused even without those headers.
    for (const [type, body] of [['text/plain', 'token=ops'], ['application/json', '{"token":"ops"}']]) {
      const other = await login().set('Content-Type', type!).send(body);
      expect([type, other.status, sessionCookieOf(other)]).toEqual([type, 403, undefined]);
      expect(other.text).toContain('application/x-www-form-urlencoded');
    }
  });

  it("signs in from the console's own page: its Origin (any scheme, as behind a TLS proxy), Sec-Fetch-Site same-origin, or no such header", async () => {
    const app = await boot();
    await app.listen(0, '127.0.0.1');
    const own = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const server = own;
    const host = new URL(own).host;
    for (const headers of [
      { Origin: own, 'Sec-Fetch-Site': 'same-origin' },
      { Origin: `https://${host}` },
      // A proxy that rewrites Host (nginx's default) but says which one the browser used.
      { Origin: 'https://ops.example', 'X-Forwarded-Host': 'ops.example' },
      // A proxy that rewrites Host and says nothing: the browser's Sec-Fetch-Site is its word.
      { Origin: 'https://ops.example', 'Sec-Fetch-Site': 'same-origin' },
      {},
    ]) {
      const login = await request(server).post('/chronicle/login').set(headers).type('form').send({ token: 'ops' });
      expect([headers, login.status, sessionCookieOf(login)]).toEqual([headers, 303, expect.stringContaining(`${CONSOLE_SESSION_COOKIE}=`)]);
    }
  });
});
