import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Chronicle, ConfigurationError } from '@chronicle/core';
import { EventSourcingModule } from '@chronicle/nestjs';
import { ChronicleConsoleModule, CONSOLE_SESSION_COOKIE, type ChronicleConsoleOptions } from '@chronicle/console';
import { FollowUp, Note, NoteCount, NoteFeed, OpenNote } from './fixtures/notebook.fixture.js';
import { eventually } from './operations.scenario.js';

/** The application's guard in these tests: `reader` may read, `ops` may read and act. */
@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: unknown }>();
    const header = req.headers.authorization;
    if (header === 'Bearer reader') req.user = { id: 'reader' };
    else if (header === 'Bearer ops' || header === 'Basic b3BzOm9wcw==') req.user = { id: 'ops', ops: true };
    else return false;
    return true;
  }
}

const READ_ONLY_FLAG = 'READ_ONLY_FLAG';
@Module({ providers: [{ provide: READ_ONLY_FLAG, useValue: true }], exports: [READ_ONLY_FLAG] })
class ReadOnlyFlagModule {}

const canAct: ChronicleConsoleOptions['canAct'] = (req) => (req as { user?: { ops?: boolean } }).user?.ops === true;

async function boot(options: Partial<ChronicleConsoleOptions> = {}): Promise<{ app: INestApplication; chronicle: Chronicle; feed: NoteFeed }> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      CqrsModule.forRoot(),
      EventSourcingModule.forRoot({
        aggregates: [Note],
        storage: 'in-memory',
        outbox: { pollIntervalMs: 20 },
        subscriptions: { pollIntervalMs: 20 },
      }),
      ChronicleConsoleModule.forRoot({ guard: TokenGuard, canAct, ...options }),
    ],
    providers: [NoteFeed, NoteCount, FollowUp],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return { app, chronicle: app.get(Chronicle), feed: app.get(NoteFeed) };
}

const XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';

/** Every page and action URL of the console (below /chronicle), with a stream id that exists in the tests. */
function consoleUrls(streamId: string): Array<['get' | 'post', string]> {
  return [
    ['get', '/chronicle'],
    ['get', '/chronicle/streams?q=note'],
    ['get', `/chronicle/streams/${encodeURIComponent(streamId)}`],
    ['get', '/chronicle/feed'],
    ['get', '/chronicle/feed/rows'],
    ['get', '/chronicle/outbox'],
    ['get', '/chronicle/subscriptions'],
    ['get', '/chronicle/subscriptions/projection%3Anote-count'],
    ['get', '/chronicle/sagas'],
    ['get', '/chronicle/sagas/follow-up/n1'],
    ['get', '/chronicle/commands/cmd-1'],
    ['get', '/chronicle/audit'],
    ['post', '/chronicle/outbox/redrive'],
    ['post', '/chronicle/subscriptions/projection%3Anote-count/redrive'],
    ['post', '/chronicle/subscriptions/projection%3Anote-count/rebuild'],
    ['post', '/chronicle/logout'],
  ];
}

describe('ChronicleConsoleModule', () => {
  it('refuses to start without a guard, or with a malformed path, naming the problem', () => {
    expect(() => ChronicleConsoleModule.forRoot({} as ChronicleConsoleOptions)).toThrow(ConfigurationError);
    expect(() => ChronicleConsoleModule.forRoot({} as ChronicleConsoleOptions)).toThrow(/refuses to start without a guard/);
    expect(() => ChronicleConsoleModule.forRoot({ guard: { nope: true } as never })).toThrow(/without a guard/);
    expect(() => ChronicleConsoleModule.forRoot({ guard: TokenGuard, path: 'chronicle' })).toThrow(/absolute URL path/);
    expect(() => ChronicleConsoleModule.forRoot({ guard: TokenGuard, path: '/a/../b' })).not.toThrow();
    expect(() => ChronicleConsoleModule.forRoot({ guard: TokenGuard, path: '/a b' })).toThrow(ConfigurationError);
  });

  describe('mounted at /chronicle', () => {
    let app: INestApplication;
    let chronicle: Chronicle;
    let feed: NoteFeed;
    let streamId: string;

    beforeAll(async () => {
      ({ app, chronicle, feed } = await boot());
      streamId = (await chronicle.execute(new OpenNote('n1', XSS), { commandId: 'cmd-1', correlationId: 'corr-1' })).streamId;
      await chronicle.execute(new OpenNote('n2', 'poison'));
      await eventually(async () => feed.published.length === 0 && (await request(app.getHttpServer()).get('/chronicle/outbox').set('Authorization', 'Bearer reader').set('Accept', 'application/json')).body.stats?.[0]?.deadLettered === 2 || undefined, 'dead letters');
    });
    afterAll(async () => {
      await app?.close();
    });

    const server = () => app.getHttpServer();

    it('answers 401 (or the login form, for a browser page) to every page and action without credentials, and shows no data', async () => {
      for (const [method, url] of consoleUrls(streamId)) {
        const script = await request(server())[method](url).set('Accept', 'application/json');
        expect([method, url, script.status]).toEqual([method, url, 401]);
        expect(script.headers['www-authenticate']).toContain('Bearer');
        expect(JSON.stringify(script.body)).not.toMatch(/note|n1|poison|xss/i);
        const browser = await request(server())[method](url).set('Accept', 'text/html').set('Cookie', `${CONSOLE_SESSION_COOKIE}=wrong-token`);
        if (method === 'get') {
          expect([url, browser.status, browser.headers.location]).toEqual([url, 303, '/chronicle/login']);
        } else {
          expect([url, browser.status]).toEqual([url, 401]);
        }
        expect(browser.text).not.toMatch(/n1|poison|xss/i);
      }
      // Refused credentials are the same as none.
      expect((await request(server()).get('/chronicle').set('Authorization', 'Bearer guess').set('Accept', 'application/json')).status).toBe(401);
      // The login form and the assets are open (they show nothing of the application).
      expect((await request(server()).get('/chronicle/login')).status).toBe(200);
      const htmx = await request(server()).get('/chronicle/assets/htmx.min.js');
      expect(htmx.status).toBe(200);
      expect(htmx.headers['content-type']).toContain('javascript');
      expect((await request(server()).get('/chronicle/assets/nope.js')).status).toBe(404);
    });

    it('shows real data to a reader, as HTML with a strict CSP and as JSON, with payloads escaped', async () => {
      const page = await request(server()).get(`/chronicle/streams/${encodeURIComponent(streamId)}`).set('Authorization', 'Bearer reader').set('Accept', 'text/html');
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.headers['x-frame-options']).toBe('DENY');
      expect(page.text).toContain('note.opened');
      expect(page.text).toContain('cmd-1');
      expect(page.text).toContain('corr-1');
      expect(page.text).not.toContain('<script>window');
      expect(page.text).not.toContain('<img src=x');
      expect(page.text).toContain('&lt;script&gt;window.__xss = 1&lt;/script&gt;&lt;img src=x onerror=\\&quot;window.__xss = 2\\&quot;&gt;');

      const overview = await request(server()).get('/chronicle').set('Authorization', 'Bearer reader').set('Accept', 'application/json');
      expect(overview.status).toBe(200);
      expect(overview.body.outbox).toEqual([expect.objectContaining({ handler: 'note-feed', deadLettered: 2 })]);
      expect(overview.body.runtime).toBe('running');

      const command = await request(server()).get('/chronicle/commands/cmd-1').set('Authorization', 'Bearer reader').set('Accept', 'application/json');
      expect(command.body).toMatchObject({ commandId: 'cmd-1', outcome: { kind: 'accepted' } });
      const lookup = await request(server()).get('/chronicle/commands?id=cmd-1').set('Authorization', 'Bearer reader');
      expect([lookup.status, lookup.headers.location]).toEqual([303, '/chronicle/commands/cmd-1']);
      // A reader sees no action forms.
      const outbox = await request(server()).get('/chronicle/outbox?handler=note-feed').set('Authorization', 'Bearer reader').set('Accept', 'text/html');
      expect(outbox.text).toContain('the broker said no');
      expect(outbox.text).toContain('Leased entries of note-feed');
      expect(outbox.text).not.toContain('Re-drive');
    });

    it('answers 400 for bad parameters and 404 for unknown ids', async () => {
      const get = (url: string) => request(server()).get(url).set('Authorization', 'Bearer reader').set('Accept', 'application/json');
      for (const url of ['/chronicle/feed?before=abc', '/chronicle/streams/x?from=-1', '/chronicle/outbox?page=999', '/chronicle/audit?page=0', '/chronicle/feed?before=1&before=2', '/chronicle/sagas?saga=follow-up&status=paused', '/chronicle/rebuilds/not-a-uuid']) {
        const response = await get(url);
        expect([url, response.status]).toEqual([url, 400]);
        expect(response.body.message).toMatch(/must be/);
      }
      for (const url of ['/chronicle/streams/never-written', '/chronicle/commands/never-sent', '/chronicle/subscriptions/projection%3Anope', '/chronicle/sagas/follow-up/nobody', '/chronicle/outbox?handler=nope', `/chronicle/rebuilds/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`]) {
        expect([url, (await get(url)).status]).toEqual([url, 404]);
      }
    });

    it('lets only an actor act, records who did what to which target, and re-drives for real', async () => {
      const reader = await request(server()).post('/chronicle/outbox/redrive').set('Authorization', 'Bearer reader').set('Accept', 'application/json').type('form').send({ handler: 'note-feed' });
      expect(reader.status).toBe(403);
      expect(reader.body.message).toMatch(/not act/);

      // Credentials a browser may attach to a cross-site form by itself (Basic) cannot act without a CSRF token.
      const basic = await request(server()).post('/chronicle/outbox/redrive').set('Authorization', 'Basic b3BzOm9wcw==').set('Accept', 'application/json').type('form').send({ handler: 'note-feed' });
      expect(basic.status).toBe(403);
      expect(basic.body.message).toMatch(/Bearer token/);

      feed.failing = false;
      const dead = (await request(server()).get('/chronicle/outbox?handler=note-feed').set('Authorization', 'Bearer ops').set('Accept', 'application/json')).body.deadLetters.items as Array<{ id: string }>;
      const one = await request(server()).post('/chronicle/outbox/redrive').set('Authorization', 'Bearer ops').set('Accept', 'application/json').type('form').send({ handler: 'note-feed', id: dead[0]!.id });
      expect([one.status, one.body]).toEqual([200, { redriven: 1 }]);
      await eventually(async () => feed.published.some((message) => message.id === dead[0]!.id) || undefined, 'the re-driven entry published');
      const unknown = await request(server()).post('/chronicle/outbox/redrive').set('Authorization', 'Bearer ops').set('Accept', 'application/json').type('form').send({ handler: 'nope' });
      expect(unknown.status).toBe(404);

      const audit = (await request(server()).get('/chronicle/audit').set('Authorization', 'Bearer reader').set('Accept', 'application/json')).body.entries as Array<Record<string, string>>;
      expect(audit[0]).toMatchObject({ actor: 'ops', action: 'outbox.redrive', target: 'nope/*', outcome: expect.stringMatching(/^failed: No outbox handler/) });
      expect(audit[1]).toMatchObject({ actor: 'ops', action: 'outbox.redrive', target: `note-feed/${dead[0]!.id}`, outcome: 'ok: 1' });
      expect(new Date(audit[1]!.at!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    });

    it('signs a browser in with an HttpOnly, SameSite=Strict cookie and refuses its actions without the CSRF token', async () => {
      const refused = await request(server()).post('/chronicle/login').type('form').send({ token: 'guess' });
      expect(refused.status).toBe(401);
      expect(refused.headers['set-cookie']).toBeUndefined();

      const login = await request(server()).post('/chronicle/login').type('form').send({ token: 'ops' });
      expect([login.status, login.headers.location]).toEqual([303, '/chronicle']);
      const cookie = String(login.headers['set-cookie']);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).toMatch(/Path=\/chronicle/);
      const session = cookie.split(';')[0]!;

      const page = await request(server()).get('/chronicle/subscriptions/projection%3Anote-count').set('Cookie', session).set('Accept', 'text/html');
      expect(page.status).toBe(200);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
      expect(csrf).toBeDefined();

      const withoutToken = await request(server()).post('/chronicle/subscriptions/projection%3Anote-count/redrive').set('Cookie', session).type('form').send({});
      expect(withoutToken.status).toBe(403);
      expect(withoutToken.text).toContain('CSRF token is missing or wrong');
      const wrongToken = await request(server()).post('/chronicle/subscriptions/projection%3Anote-count/redrive').set('Cookie', session).type('form').send({ _csrf: `${csrf}x` });
      expect(wrongToken.status).toBe(403);
      const withToken = await request(server()).post('/chronicle/subscriptions/projection%3Anote-count/redrive').set('Cookie', session).type('form').send({ _csrf: csrf });
      expect(withToken.status).toBe(200);
      expect(withToken.text).toContain('1 parked event is marked for re-delivery');

      const rebuild = await request(server()).post('/chronicle/subscriptions/projection%3Anote-count/rebuild').set('Cookie', session).type('form').send({ _csrf: csrf });
      expect(rebuild.status).toBe(303);
      const progressUrl = rebuild.headers.location!;
      const done = await eventually(async () => {
        const job = await request(server()).get(progressUrl).set('Cookie', session).set('Accept', 'application/json');
        return job.body.state === 'completed' ? job.body : undefined;
      }, 'the rebuild completed');
      expect(done).toMatchObject({ projection: 'note-count', progress: { read: 2, parked: 1 } });

      const logout = await request(server()).post('/chronicle/logout').set('Cookie', session).type('form').send({ _csrf: csrf });
      expect(logout.status).toBe(303);
      expect(String(logout.headers['set-cookie'])).toMatch(/Max-Age=0/);
    });
  });

  it('forRootAsync: the path and guard fixed, the rest from a factory with injections, checked at start', async () => {
    expect(() => ChronicleConsoleModule.forRootAsync({ useFactory: () => ({}) } as never)).toThrow(/refuses to start without a guard/);
    const compile = (factory: () => object) =>
      Test.createTestingModule({
        imports: [
          CqrsModule.forRoot(),
          EventSourcingModule.forRoot({ aggregates: [Note], storage: 'in-memory' }),
          ChronicleConsoleModule.forRootAsync({ path: '/ops', guard: TokenGuard, imports: [ReadOnlyFlagModule], inject: [READ_ONLY_FLAG], useFactory: factory as never }),
        ],
      }).compile();
    await expect(compile(() => ({ refreshMs: 5 }))).rejects.toThrow(/refreshMs must be an integer from 250/);
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        EventSourcingModule.forRoot({ aggregates: [Note], storage: 'in-memory' }),
        ChronicleConsoleModule.forRootAsync({
          path: '/ops',
          guard: TokenGuard,
          imports: [ReadOnlyFlagModule],
          inject: [READ_ONLY_FLAG],
          useFactory: (readOnly: boolean) => ({ readOnly, canAct }),
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      expect((await request(app.getHttpServer()).get('/ops').set('Accept', 'application/json')).status).toBe(401);
      expect((await request(app.getHttpServer()).get('/ops').set('Authorization', 'Bearer reader').set('Accept', 'application/json')).status).toBe(200);
      const refused = await request(app.getHttpServer()).post('/ops/outbox/redrive').set('Authorization', 'Bearer ops').set('Accept', 'application/json').type('form').send({ handler: 'x' });
      expect([refused.status, refused.body.message]).toEqual([403, expect.stringContaining('read-only')]);
      expect((await request(app.getHttpServer()).get('/chronicle').set('Authorization', 'Bearer reader')).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('refuses every action in read-only mode, even to an actor', async () => {
    const { app } = await boot({ readOnly: true });
    try {
      for (const url of ['/chronicle/outbox/redrive', '/chronicle/subscriptions/projection%3Anote-count/rebuild']) {
        const response = await request(app.getHttpServer()).post(url).set('Authorization', 'Bearer ops').set('Accept', 'application/json').type('form').send({ handler: 'note-feed' });
        expect([url, response.status, response.body.message]).toEqual([url, 403, expect.stringContaining('read-only')]);
      }
      const page = await request(app.getHttpServer()).get('/chronicle').set('Authorization', 'Bearer ops').set('Accept', 'text/html');
      expect(page.text).toContain('read-only');
    } finally {
      await app.close();
    }
  });
});
