import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Injectable, type CanActivate, type ExecutionContext, type INestApplication, type LoggerService } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Chronicle } from '@chronicle/core';
import { EventSourcingModule } from '@chronicle/nestjs';
import { ChronicleConsoleModule, InMemoryConsoleAuditLog, type ConsoleAuditEntry } from '@chronicle/console';
import { FollowUp, Note, NoteCount, NoteFeed, OpenNote } from './fixtures/notebook.fixture.js';
import { eventually } from './operations.scenario.js';

jest.setTimeout(30_000);

@Injectable()
class OpsGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: unknown }>();
    if (req.headers.authorization !== 'Bearer ops') return false;
    req.user = { id: 'ops' };
    return true;
  }
}

/** An audit store that can be told to fail its next writes (a lost connection, a lock timeout) or to be slow. */
class UnreliableAuditLog extends InMemoryConsoleAuditLog {
  failures = 0;
  delayMs: (entry: ConsoleAuditEntry) => number = () => 0;
  override async record(entry: ConsoleAuditEntry): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('audit database hiccup');
    }
    await new Promise((resolve) => setTimeout(resolve, this.delayMs(entry)));
    return super.record(entry);
  }
}

/** Keeps what the application logs. */
class LogLines implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  log(message: unknown): void {
    this.lines.push({ level: 'log', message: String(message) });
  }
  error(message: unknown): void {
    this.lines.push({ level: 'error', message: String(message) });
  }
  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message: String(message) });
  }
}

describe('the console audit trail: a row for every action attempt, with the action\'s own outcome', () => {
  let app: INestApplication;
  let feed: NoteFeed;
  let count: NoteCount;
  const audit = new UnreliableAuditLog();
  const logs = new LogLines();
  const server = () => app.getHttpServer();
  const ops = (method: 'get' | 'post', url: string) => request(server())[method](url).set('Authorization', 'Bearer ops').set('Accept', 'application/json');
  const rows = async () => (await ops('get', '/chronicle/audit')).body.entries as Array<Record<string, string>>;
  const deadLetters = async () => (await ops('get', '/chronicle/outbox?handler=note-feed')).body.deadLetters.items as Array<{ id: string }>;
  let opened = 0;
  /** A new note whose outbox entry dead-letters (the feed fails). */
  const deadLetter = async (): Promise<string> => {
    feed.failing = true;
    const before = (await deadLetters()).length;
    await app.get(Chronicle).execute(new OpenNote(`n${++opened}`, 'hello'));
    await eventually(async () => (await deadLetters()).length > before || undefined, 'a dead letter');
    return (await deadLetters())[0]!.id;
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        EventSourcingModule.forRoot({ aggregates: [Note], storage: 'in-memory', outbox: { pollIntervalMs: 20 }, subscriptions: { pollIntervalMs: 20 } }),
        ChronicleConsoleModule.forRoot({ guard: OpsGuard, canAct: () => true, auditLog: audit }),
      ],
      providers: [NoteFeed, NoteCount, FollowUp],
    }).compile();
    app = moduleRef.createNestApplication({ logger: logs });
    await app.init();
    feed = app.get(NoteFeed);
    count = app.get(NoteCount);
  });
  afterAll(async () => app?.close());
  beforeEach(() => {
    audit.failures = 0;
    audit.delayMs = () => 0;
    logs.lines.length = 0;
  });

  it('records a refused rebuild (a saga, an unknown subscription) as failed, and one already running as not started', async () => {
    const saga = await ops('post', '/chronicle/subscriptions/saga%3Afollow-up/rebuild').type('form').send({});
    expect(saga.status).toBe(400);
    expect((await rows())[0]).toMatchObject({ actor: 'ops', action: 'projection.rebuild', target: 'saga:follow-up', outcome: expect.stringMatching(/^failed: .*only projections are rebuilt/) });
    const unknown = await ops('post', '/chronicle/subscriptions/projection%3Anope/rebuild').type('form').send({});
    expect(unknown.status).toBe(404);
    expect((await rows())[0]).toMatchObject({ action: 'projection.rebuild', target: 'projection:nope', outcome: expect.stringMatching(/^failed: No subscription "projection:nope"/) });

    // A rebuild held in its clear() while a second one is asked for.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const clear = count.clear.bind(count);
    count.clear = async () => {
      await held;
      await clear();
    };
    try {
      const first = await ops('post', '/chronicle/subscriptions/projection%3Anote-count/rebuild').type('form').send({});
      const second = await ops('post', '/chronicle/subscriptions/projection%3Anote-count/rebuild').type('form').send({});
      expect([first.status, first.body.started, second.status, second.body.started, second.body.job]).toEqual([202, true, 202, false, first.body.job]);
      expect((await rows()).slice(0, 2)).toEqual([
        expect.objectContaining({ target: 'projection:note-count', outcome: `not started: already running as rebuild ${first.body.job}` }),
        expect.objectContaining({ target: 'projection:note-count', outcome: 'started' }),
      ]);
    } finally {
      release();
      count.clear = clear;
    }
    await eventually(async () => (await rows())[0]!.outcome!.startsWith('completed') || undefined, 'the rebuild completed');
  });

  it('writes a rebuild\'s end row after its "started" row, however slow that write is', async () => {
    audit.delayMs = (entry) => (entry.outcome === 'started' ? 300 : 0);
    const rebuild = await ops('post', '/chronicle/subscriptions/projection%3Anote-count/rebuild').type('form').send({});
    expect(rebuild.status).toBe(202);
    await eventually(async () => (await rows()).slice(0, 2).some((row) => row.outcome!.startsWith('completed')) || undefined, 'the rebuild completed');
    const [ended, started] = await rows();
    expect([ended!.outcome, started!.outcome]).toEqual([expect.stringMatching(/^completed: /), 'started']);
    expect(new Date(ended!.at!).getTime()).toBeGreaterThanOrEqual(new Date(started!.at!).getTime());
  });

  it('retries an "ok" row whose write fails once: the re-drive is answered and recorded as done', async () => {
    const id = await deadLetter();
    feed.failing = false;
    audit.failures = 1;
    const response = await ops('post', '/chronicle/outbox/redrive').type('form').send({ handler: 'note-feed', id });
    expect([response.status, response.body]).toEqual([200, { redriven: 1 }]);
    await eventually(async () => feed.published.some((message) => message.id === id) || undefined, 'the re-driven entry published');
    expect((await rows())[0]).toMatchObject({ action: 'outbox.redrive', target: `note-feed/${id}`, outcome: 'ok: 1' });
  });

  it('never answers or records a re-drive that happened as failed when its row cannot be written: the log keeps it', async () => {
    const id = await deadLetter();
    feed.failing = false;
    const before = (await rows()).length;
    audit.failures = 2;
    const response = await ops('post', '/chronicle/outbox/redrive').type('form').send({ handler: 'note-feed', id });
    expect([response.status, response.body]).toEqual([200, { redriven: 1 }]);
    await eventually(async () => feed.published.some((message) => message.id === id) || undefined, 'the re-driven entry published');
    expect((await rows()).length).toBe(before); // no row, and certainly no "failed" one
    expect(logs.lines).toContainEqual({
      level: 'error',
      message: expect.stringMatching(new RegExp(`^audit row not written \\(audit database hiccup\\), the action's outcome stands: \\S+ ops outbox\\.redrive note-feed/${id}: ok: 1$`)),
    });
  });

  it('answers a failed action with its own error, not the audit store\'s, when its row cannot be written', async () => {
    audit.failures = 2;
    const response = await ops('post', '/chronicle/outbox/redrive').type('form').send({ handler: 'nope' });
    expect([response.status, response.body.message]).toEqual([404, expect.stringMatching(/No outbox handler "nope"/)]);
  });

  it('logs the operator\'s values on one line: a newline in a target cannot forge a log line', async () => {
    const response = await ops('post', '/chronicle/outbox/redrive').type('form').send({ handler: 'nope\naudit: admin outbox.redrive all/*: ok: 99' });
    expect(response.status).toBe(404);
    const audited = logs.lines.filter((line) => line.message.includes('outbox.redrive'));
    expect(audited).toHaveLength(1);
    expect(audited[0]!.message).toMatch(/^audit: ops outbox\.redrive nope\\naudit: admin outbox\.redrive all\/\*: ok: 99\/\*: failed: /);
  });
});
