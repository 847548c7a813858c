import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Controller, Get, HttpCode, Inject, Post, Req, Res, SetMetadata, UseFilters, UseGuards, type Type } from '@nestjs/common';
import type { Request, Response } from 'express';
import { InvalidArgumentError, type SagaStatus } from '@chronicle/core';
import type { ConsoleAuditEntry } from '../audit/console-audit-entry.js';
import { OperationsNotFoundError } from '../errors/operations-not-found.error.js';
import type { SubscriptionOverview } from '../operations/chronicle-operations.service.js';
import { OPERATIONS_LIMITS } from '../operations/operations-limits.js';
import { ConsoleAccessGuard } from './console-access.guard.js';
import { consoleStateOf } from './console-request-state.js';
import { ConsoleForbiddenError } from './console-errors.js';
import { ConsoleExceptionFilter, wantsHtml } from './console-exception.filter.js';
import * as pages from './console-pages.view.js';
import { CONSOLE_LOGIN, CONSOLE_PUBLIC } from './console.constants.js';
import { formOf } from './console-form.js';
import { csrfTokenFor, csrfTokenMatches, sessionCookie } from './console-session.js';
import { ConsoleService } from './console.service.js';
import type { Html } from './html.template.js';

const Public = (): MethodDecorator => SetMetadata(CONSOLE_PUBLIC, true);
const Login = (): MethodDecorator => SetMetadata(CONSOLE_LOGIN, true);

// The front end's files, read once: htmx from its npm package (no CDN: the console works offline),
// the style sheet from this package.
const requireFromHere = createRequire(import.meta.url);
let assetCache: Map<string, { type: string; body: Buffer }> | undefined;
function assets(): Map<string, { type: string; body: Buffer }> {
  assetCache ??= new Map([
    ['htmx.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(requireFromHere.resolve('htmx.org/dist/htmx.min.js')) }],
    ['console.css', { type: 'text/css; charset=utf-8', body: readFileSync(new URL('../../assets/console.css', import.meta.url)) }],
  ]);
  return assetCache;
}

function single(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(name, value, 'given once, as text');
  return value === '' ? undefined : value;
}

/** How long the second attempt at an audit row waits after the first failed. */
const AUDIT_RETRY_DELAY_MS = 100;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function wholeNumber(name: string, value: unknown): number | undefined {
  const text = single(name, value);
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new InvalidArgumentError(name, text, 'a whole number');
  return Number(text);
}

/**
 * The console's pages and actions. The class is made per mount path by `consoleControllerFor`;
 * every route runs behind `ConsoleAccessGuard` and answers errors through `ConsoleExceptionFilter`.
 */
class ConsoleControllerBase {
  constructor(
    @Inject(ConsoleService) private readonly console: ConsoleService,
  ) {}

  private get base(): string {
    return this.console.options.path;
  }

  private async context(request: Request): Promise<pages.PageContext> {
    const { session } = consoleStateOf(request);
    const { readOnly, refreshMs, csrfSecret } = this.console.options;
    return {
      base: this.base,
      csrf: session ? csrfTokenFor(csrfSecret, session) : '',
      canAct: !readOnly && (await this.console.options.canAct(request)),
      readOnly,
      refreshMs,
      session: session !== undefined,
    };
  }

  /** Whether the session cookie is `Secure`: the `secureCookie` option, or for 'auto' whether Express saw HTTPS (see `trust proxy`). */
  private secureCookie(request: Request): boolean {
    const { secureCookie } = this.console.options;
    return secureCookie === 'auto' ? request.secure : secureCookie;
  }

  private send(request: Request, response: Response, data: unknown, page: () => Html): void {
    if (wantsHtml(request)) response.type('html').send(page().toString());
    else response.json(data);
  }

  @Public()
  @Get('assets/:name')
  asset(@Req() request: Request, @Res() response: Response): void {
    const asset = assets().get(String(request.params.name));
    if (!asset) {
      response.status(404).type('text').send('Not found');
      return;
    }
    response.setHeader('Cache-Control', 'public, max-age=3600');
    response.type(asset.type).send(asset.body);
  }

  @Public()
  @Get('login')
  loginForm(@Res() response: Response): void {
    response.type('html').send(pages.loginPage(this.base).toString());
  }

  /**
   * The access guard has checked the form's token with the application's guard (as a Bearer
   * header); only then is the cookie set. A refused token gets the form again, with 401.
   */
  @Login()
  @Post('login')
  async login(@Req() request: Request, @Res() response: Response): Promise<void> {
    const token = consoleStateOf(request).loginToken!;
    response.setHeader('Set-Cookie', sessionCookie(this.base, token, this.secureCookie(request), 8 * 3600));
    response.redirect(303, this.base);
  }

  @Post('logout')
  async logout(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.checkCsrf(request, await formOf(request));
    response.setHeader('Set-Cookie', sessionCookie(this.base, '', this.secureCookie(request), 0));
    response.redirect(303, `${this.base}/login`);
  }

  @Get()
  async overview(@Req() request: Request, @Res() response: Response): Promise<void> {
    const overview = await this.console.operations.overview();
    const ctx = await this.context(request);
    this.send(request, response, overview, () => pages.overviewPage(ctx, overview));
  }

  @Get('streams')
  async streams(@Req() request: Request, @Res() response: Response): Promise<void> {
    const q = single('q', request.query.q);
    const type = single('type', request.query.type);
    const after = single('after', request.query.after);
    const result = await this.console.operations.findStreams({
      ...(q === undefined ? {} : { prefix: q }),
      ...(type === undefined ? {} : { aggregateType: type }),
      ...(after === undefined ? {} : { after }),
    });
    const ctx = await this.context(request);
    this.send(request, response, result, () => pages.streamsPage(ctx, { ...(q === undefined ? {} : { q }), ...(type === undefined ? {} : { type }) }, result));
  }

  @Get('streams/:streamId')
  async stream(@Req() request: Request, @Res() response: Response): Promise<void> {
    const fromVersion = wholeNumber('from', request.query.from);
    const page = await this.console.operations.streamEvents(String(request.params.streamId), fromVersion === undefined ? {} : { fromVersion });
    const ctx = await this.context(request);
    this.send(request, response, page, () => pages.streamPage(ctx, page));
  }

  @Get('feed')
  async feed(@Req() request: Request, @Res() response: Response): Promise<void> {
    const before = wholeNumber('before', request.query.before);
    const page = await this.console.operations.latestEvents(before === undefined ? {} : { beforePosition: before });
    const ctx = await this.context(request);
    this.send(request, response, page, () => pages.feedPage(ctx, page, before === undefined));
  }

  /** The rows of the live feed, polled by the feed page. */
  @Get('feed/rows')
  async feedRows(@Req() request: Request, @Res() response: Response): Promise<void> {
    const page = await this.console.operations.latestEvents();
    const ctx = await this.context(request);
    this.send(request, response, page, () => pages.feedRows(ctx, page.items));
  }

  @Get('outbox')
  async outbox(@Req() request: Request, @Res() response: Response): Promise<void> {
    const handler = single('handler', request.query.handler);
    const page = wholeNumber('page', request.query.page) ?? 1;
    const view = handler ? await this.console.operations.outboxHandler(handler, { page }) : undefined;
    const [stats, dead] = view
      ? [[view.stats], view.deadLetters]
      : await Promise.all([this.console.operations.outbox(), this.console.operations.deadLetters({ page })]);
    const ctx = await this.context(request);
    this.send(request, response, { stats, leased: view?.leased, deadLetters: dead }, () => pages.outboxPage(ctx, handler, stats, dead, page, view?.leased));
  }

  /** Re-drives one dead-lettered entry (`id`) or all of a handler's. */
  @HttpCode(200)
  @Post('outbox/redrive')
  async redriveOutbox(@Req() request: Request, @Res() response: Response): Promise<void> {
    const form = await this.action(request);
    const handler = form.handler ?? '';
    const id = form.id || undefined;
    const count = await this.audited(request, 'outbox.redrive', id ? `${handler}/${id}` : `${handler}/*`, () =>
      this.console.operations.redrive(handler, id ? [id] : undefined),
    );
    const ctx = await this.context(request);
    this.send(request, response, { redriven: count }, () =>
      pages.messagePage(ctx, 'Re-drive requested', `${count} dead-lettered ${count === 1 ? 'entry is' : 'entries are'} pending again for ${handler}; the relay publishes ${count === 1 ? 'it' : 'them'} on its next claim.`, {
        href: `${this.base}/outbox?handler=${encodeURIComponent(handler)}`,
        label: `Back to the outbox of ${handler}`,
      }),
    );
  }

  @Get('subscriptions')
  async subscriptions(@Req() request: Request, @Res() response: Response): Promise<void> {
    const subscriptions = await this.console.operations.subscriptions();
    const ctx = await this.context(request);
    this.send(request, response, subscriptions, () => pages.subscriptionsPage(ctx, subscriptions));
  }

  @Get('subscriptions/:name')
  async subscription(@Req() request: Request, @Res() response: Response): Promise<void> {
    const name = String(request.params.name);
    const page = wholeNumber('page', request.query.page) ?? 1;
    const subscription = await this.console.operations.subscription(name);
    const parked = await this.console.operations.parked(name, { page });
    const ctx = await this.context(request);
    this.send(request, response, { subscription, parked }, () => pages.subscriptionPage(ctx, subscription, parked, page));
  }

  /** Asks for the parked events of one stream (`streamId`) or all to be delivered again. */
  @HttpCode(200)
  @Post('subscriptions/:name/redrive')
  async redriveParked(@Req() request: Request, @Res() response: Response): Promise<void> {
    const form = await this.action(request);
    const name = String(request.params.name);
    const streamId = form.streamId || undefined;
    const count = await this.audited(request, 'subscription.redrive', streamId ? `${name}/${streamId}` : `${name}/*`, () =>
      this.console.operations.redriveParked(name, streamId),
    );
    const ctx = await this.context(request);
    this.send(request, response, { requested: count }, () =>
      pages.messagePage(ctx, 'Re-drive requested', `${count} parked ${count === 1 ? 'event is' : 'events are'} marked for re-delivery; the runner holding ${name} delivers them again.`, {
        href: `${this.base}/subscriptions/${encodeURIComponent(name)}`,
        label: `Back to ${name}`,
      }),
    );
  }

  /**
   * Starts a projection rebuild and answers with its progress page. Every request past the action
   * checks leaves audit rows: 'failed: …' when it is refused (no such subscription, not a
   * projection), 'not started: …' when the projection's rebuild is already running here, else
   * 'started' and later the rebuild's end.
   */
  @Post('subscriptions/:name/rebuild')
  async rebuild(@Req() request: Request, @Res() response: Response): Promise<void> {
    await this.action(request);
    const name = String(request.params.name);
    const actor = this.console.options.actor(request);
    const row = (outcome: string) => ({ actor, action: 'projection.rebuild', target: name, outcome });
    let subscription: SubscriptionOverview;
    try {
      subscription = await this.console.operations.subscription(name);
      if (subscription.kind !== 'projection') throw new InvalidArgumentError('name', name, 'a projection subscription (projection:<name>): only projections are rebuilt');
    } catch (error) {
      await this.recordOutcome(row(`failed: ${messageOf(error)}`));
      throw error;
    }
    // The end row waits for the 'started' row, so the trail never shows a rebuild ending before it
    // started (an in-memory rebuild can end before the first row is written). `start` calls
    // `onEnd` from a promise, never synchronously, so `startRow` is set by then.
    let startRow: Promise<void> = Promise.resolve();
    const { job, started } = this.console.rebuilds.start(this.console.operations, subscription.shortName, actor, (ended) => {
      void startRow.then(() =>
        this.recordOutcome(row(ended.state === 'completed' ? `completed: ${ended.progress.read} events read` : `failed: ${ended.error}`)),
      );
    });
    startRow = this.recordOutcome(row(started ? 'started' : `not started: already running as rebuild ${job.id}`));
    await startRow;
    if (wantsHtml(request)) response.redirect(303, `${this.base}/rebuilds/${job.id}`);
    else response.status(202).json({ job: job.id, started, progress: `${this.base}/rebuilds/${job.id}` });
  }

  @Get('rebuilds/:id')
  async rebuildStatus(@Req() request: Request, @Res() response: Response): Promise<void> {
    const job = this.job(String(request.params.id));
    const ctx = await this.context(request);
    this.send(request, response, job, () => pages.rebuildPage(ctx, job));
  }

  /** The progress fragment a rebuild page polls. */
  @Get('rebuilds/:id/progress')
  async rebuildProgress(@Req() request: Request, @Res() response: Response): Promise<void> {
    const job = this.job(String(request.params.id));
    const ctx = await this.context(request);
    this.send(request, response, job, () => pages.rebuildProgress(ctx, job));
  }

  @Get('sagas')
  async sagas(@Req() request: Request, @Res() response: Response): Promise<void> {
    const names = await this.console.operations.sagaNames();
    const saga = single('saga', request.query.saga) ?? names[0];
    const status = single('status', request.query.status) as SagaStatus | undefined;
    const after = single('after', request.query.after);
    const result = saga === undefined ? undefined : await this.console.operations.sagas({ saga, ...(status === undefined ? {} : { status }), ...(after === undefined ? {} : { after }) });
    const ctx = await this.context(request);
    this.send(request, response, { sagas: names, instances: result }, () =>
      pages.sagasPage(ctx, names, { ...(saga === undefined ? {} : { saga }), ...(status === undefined ? {} : { status }) }, result),
    );
  }

  @Get('sagas/:saga/:correlationId')
  async saga(@Req() request: Request, @Res() response: Response): Promise<void> {
    const view = await this.console.operations.saga(String(request.params.saga), String(request.params.correlationId));
    const ctx = await this.context(request);
    this.send(request, response, view, () => pages.sagaPage(ctx, view));
  }

  /** The lookup form; `?id=` goes to the command's own URL. */
  @Get('commands')
  async commands(@Req() request: Request, @Res() response: Response): Promise<void> {
    const id = single('id', request.query.id);
    if (id !== undefined) {
      response.redirect(303, `${this.base}/commands/${encodeURIComponent(id)}`);
      return;
    }
    const ctx = await this.context(request);
    this.send(request, response, {}, () => pages.commandPage(ctx, undefined, undefined));
  }

  @Get('commands/:commandId')
  async command(@Req() request: Request, @Res() response: Response): Promise<void> {
    const commandId = String(request.params.commandId);
    const record = await this.console.operations.commandOutcome(commandId);
    const ctx = await this.context(request);
    this.send(request, response, record, () => pages.commandPage(ctx, commandId, record));
  }

  @Get('audit')
  async audit(@Req() request: Request, @Res() response: Response): Promise<void> {
    const page = wholeNumber('page', request.query.page) ?? 1;
    if (page < 1 || page > OPERATIONS_LIMITS.maxOffsetPage) throw new InvalidArgumentError('page', page, `an integer from 1 to ${OPERATIONS_LIMITS.maxOffsetPage}`);
    const size = OPERATIONS_LIMITS.defaultPageSize;
    const rows = await this.console.audit.latest(size + 1, (page - 1) * size);
    const entries = rows.slice(0, size);
    const ctx = await this.context(request);
    this.send(request, response, { entries, more: rows.length > size }, () => pages.auditPage(ctx, entries, page, rows.length > size));
  }

  private job(id: string) {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new InvalidArgumentError('id', id, 'a rebuild id (a UUID)');
    const job = this.console.rebuilds.get(id);
    if (!job) throw new OperationsNotFoundError('rebuild', id, 'A rebuild is known to the instance that started it, until it restarts.');
    return job;
  }

  /**
   * The checks of every action, before anything is read or changed: not read-only, the requester
   * may act, and a browser session sent its CSRF token. Returns the form.
   */
  private async action(request: Request): Promise<Record<string, string>> {
    const form = await formOf(request);
    if (this.console.options.readOnly) throw new ConsoleForbiddenError('This console is read-only: actions are turned off.');
    if (!(await this.console.options.canAct(request))) {
      throw new ConsoleForbiddenError('You may read this console but not act in it (re-drive, rebuild): ask for the permission the application checks in canAct.');
    }
    await this.checkCsrf(request, form);
    return form;
  }

  private async checkCsrf(request: Request, form: Record<string, string>): Promise<void> {
    const { session } = consoleStateOf(request);
    // A script sending its own Bearer token needs no CSRF token: a browser never attaches a Bearer
    // header to a cross-site request, whereas it does attach the session cookie (SameSite aside)
    // and may attach cached Basic, Digest or Negotiate credentials by itself, so those cannot act.
    if (session === undefined) {
      if (/^Bearer\s/i.test(request.headers.authorization ?? '')) return;
      throw new ConsoleForbiddenError(
        'Actions need a Bearer token (scripts) or the console login with its CSRF token (browsers): a browser attaches other Authorization schemes (Basic, Digest, Negotiate) to cross-site requests by itself.',
      );
    }
    const submitted = form._csrf ?? request.headers['x-csrf-token'];
    if (!csrfTokenMatches(this.console.options.csrfSecret, session, submitted)) {
      throw new ConsoleForbiddenError('The CSRF token is missing or wrong: reload the page and submit its form again.');
    }
  }

  /**
   * Runs an action and then records its outcome: 'ok: <result>' or 'failed: <error>'. The action
   * runs in its own try/catch, so only its own error is recorded or answered as its failure.
   */
  private async audited<T>(request: Request, action: string, target: string, work: () => Promise<T>): Promise<T> {
    const actor = this.console.options.actor(request);
    let result: T;
    try {
      result = await work();
    } catch (error) {
      await this.recordOutcome({ actor, action, target, outcome: `failed: ${messageOf(error)}` });
      throw error;
    }
    await this.recordOutcome({ actor, action, target, outcome: `ok: ${String(result)}` });
    return result;
  }

  /**
   * Writes an action's audit row once the action is over, retrying once (a lost connection, a lock
   * timeout). A row that still cannot be written is logged at error level with the whole entry by
   * `ConsoleService.record`, and the answer is left as the action decided it: an action that
   * happened (entries pending again, a rebuild running) answered with a 500 would tell the operator
   * it failed, and they would act on that (retry, escalate) while the change stands; an action that
   * failed answered with the audit store's error would hide its own cause. The log line is then the
   * trail of that action.
   */
  private async recordOutcome(entry: Omit<ConsoleAuditEntry, 'at'>): Promise<void> {
    try {
      await this.console.record(entry);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, AUDIT_RETRY_DELAY_MS));
      await this.console.record(entry).catch(() => undefined);
    }
  }
}

/** The console's controller class, mounted at `path`. */
export function consoleControllerFor(path: string): Type<unknown> {
  @Controller(path.replace(/^\/+/, ''))
  @UseGuards(ConsoleAccessGuard)
  @UseFilters(ConsoleExceptionFilter)
  class ChronicleConsoleController extends ConsoleControllerBase {}
  return ChronicleConsoleController;
}
