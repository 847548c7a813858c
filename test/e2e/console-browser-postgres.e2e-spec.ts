import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import pg from 'pg';
import request from 'supertest';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { recordExchange } from '../support/outbox-test-apps.js';
import { startDemo, type RunningDemo } from '../support/demo-app.js';
import { AMQP_URL, CHROMIUM_PATH, POSTGRES_URL, createSchema, describeBrowser, uniqueSchemaName } from '../support/services.js';

// The operations console in real headless Chromium, against the demo bank on PostgreSQL with its
// RabbitMQ publisher. Screenshots go to test-artifacts/console/ (ignored by git, kept by CI).

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
const TOKEN = 'console-e2e-token-0123456789';
const XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

await describeBrowser('operations console in Chromium (demo on PostgreSQL, RabbitMQ)', () => {
  let schema: string;
  let drop: () => Promise<void>;
  let browser: Browser;
  const running: RunningDemo[] = [];
  let ops: RunningDemo;

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function signIn(page: Page, base: string): Promise<void> {
    await page.goto(`${base}/chronicle/login`);
    await page.fill('#token', TOKEN);
    await page.press('#token', 'Enter');
    await page.waitForURL(`${base}/chronicle`);
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    schema = uniqueSchemaName('chr_console');
    drop = await createSchema(schema);
    // The console's instance does not relay the outbox, so that the test can dead-letter an entry
    // before any relay sees it; a second instance (started later) relays.
    ops = await startDemo({ databaseUrl: POSTGRES_URL, schema, amqpUrl: AMQP_URL, consoleToken: TOKEN, outbox: { relay: false, pollIntervalMs: 100 }, subscriptions: { pollIntervalMs: 100 } });
    running.push(ops);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(running.splice(0).map((demo) => demo.close()));
    await drop?.();
  });

  it('shows real data, re-drives a dead letter to RabbitMQ, and rebuilds a projection with progress', async () => {
    const http = request(ops.url);
    const { id: xssId } = (await http.post('/accounts').send({ owner: XSS }).expect(201)).body as { id: string };
    const ids: string[] = [];
    for (let index = 0; index < 12; index++) {
      const { id } = (await http.post('/accounts').send({ owner: `owner ${index}` }).expect(201)).body as { id: string };
      await http.post(`/accounts/${id}/deposits`).send({ amount: 100 + index }).expect(200);
      ids.push(id);
    }
    const victim = ids[0]!;

    // Dead-letter the victim's first outbox entry, as a relay does after its last failed attempt.
    const dataSource = new DataSource({ type: 'postgres', driver: pg, url: POSTGRES_URL, poolSize: 2 });
    await dataSource.initialize();
    let deadId: string;
    try {
      const storage = createTypeOrmStorage(dataSource, { schema, notifications: false });
      const claimed = await storage.outbox.claim('rabbitmq', 'console-e2e', { limit: 1000, leaseMs: 60_000 });
      const head = claimed.find((entry) => entry.aggregateId === victim && entry.version === 1);
      expect(head).toBeDefined();
      deadId = head!.id;
      expect(await storage.outbox.deadLetter('rabbitmq', 'console-e2e', deadId, 'broker refused: simulated by the test')).toBe(true);
      await storage.outbox.release('rabbitmq', 'console-e2e');
    } finally {
      await dataSource.destroy();
    }
    const consumer = await recordExchange('chronicle.demo');
    try {
      // A relaying instance publishes everything but the victim's entries (its head is dead).
      running.push(await startDemo({ databaseUrl: POSTGRES_URL, schema, amqpUrl: AMQP_URL, outbox: { pollIntervalMs: 100 }, subscriptions: { pollIntervalMs: 100 } }));
      const xssMessages = () => consumer.messages.filter((message) => message.aggregateId === xssId);
      await eventually(async () => xssMessages().length > 0 || undefined, 'other accounts published');

      const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
      const page = await context.newPage();
      const failures: string[] = [];
      page.on('pageerror', (error) => failures.push(error.message));
      await signIn(page, ops.url);

      // Overview with real figures.
      expect(await page.textContent('h1')).toBe('Overview');
      const overview = await page.textContent('main');
      expect(overview).toContain('rabbitmq');
      expect(overview).toContain('projection:balances');
      expect(overview).toContain('saga:money-transfer');
      await shot(page, 'overview');

      // Streams: search by prefix, open one.
      await page.goto(`${ops.url}/chronicle/streams?q=${encodeURIComponent('account')}`);
      expect(await page.locator('tbody tr').count()).toBeGreaterThanOrEqual(13);
      await shot(page, 'streams');

      // The XSS payload renders as text, never as markup, on the stream page and in the live feed.
      await page.goto(`${ops.url}/chronicle/streams?q=${encodeURIComponent('')}`);
      const streamLink = page.locator('tbody a', { hasText: xssId }).first();
      await streamLink.click();
      await page.waitForLoadState('load');
      expect(await page.textContent('main')).toContain(XSS.replace(/"/g, '\\"'));
      expect(await page.evaluate('typeof window.__xss')).toBe('undefined');
      expect(await page.locator('main img, main script').count()).toBe(0);
      await shot(page, 'stream-xss-inert');

      await page.goto(`${ops.url}/chronicle/feed`);
      expect(await page.textContent('#feed-rows')).toContain('account.');
      // The feed is live: a new event appears without a reload.
      const { id: lateId } = (await http.post('/accounts').send({ owner: 'arrives while watching' }).expect(201)).body as { id: string };
      // A function, not a string: the console's CSP forbids eval, which a string predicate needs.
      await page.waitForFunction(
        (id) => ((globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('#feed-rows')?.textContent ?? '').includes(id),
        lateId,
        { timeout: 15_000 },
      );
      expect(await page.evaluate('typeof window.__xss')).toBe('undefined');
      await shot(page, 'feed');

      // The dead letter, re-driven from the console, reaches RabbitMQ.
      await page.goto(`${ops.url}/chronicle/outbox?handler=rabbitmq`);
      const row = page.locator('tr', { hasText: deadId });
      expect(await row.textContent()).toContain('broker refused: simulated by the test');
      await shot(page, 'outbox-dead-letter');
      expect(consumer.messages.some((message) => message.id === deadId)).toBe(false);
      await row.locator('button', { hasText: 'Re-drive' }).click();
      await page.waitForLoadState('load');
      expect(await page.textContent('main')).toContain('1 dead-lettered entry is pending again for rabbitmq');
      await eventually(async () => consumer.messages.some((message) => message.id === deadId) || undefined, 'the re-driven entry on RabbitMQ');
      // And the victim's later entries follow it, in order.
      await eventually(async () => consumer.messages.filter((message) => message.aggregateId === victim).length >= 2 || undefined, "the victim's later entries");

      // A projection rebuild shows its progress page and completes.
      await page.goto(`${ops.url}/chronicle/subscriptions/${encodeURIComponent('projection:balances')}`);
      await page.locator('button', { hasText: 'Rebuild projection balances' }).click();
      await page.waitForURL(/\/chronicle\/rebuilds\//);
      expect(await page.locator('#rebuild-progress progress').count()).toBe(1);
      await page.waitForSelector('#rebuild-progress [data-state="completed"]', { timeout: 30_000 });
      const done = await page.textContent('#rebuild-progress');
      const read = Number(/Completed: (\d+) events read/.exec(done ?? '')?.[1]);
      expect(read).toBeGreaterThanOrEqual(26);
      await shot(page, 'rebuild-completed');
      // The rebuilt read model still holds every balance.
      expect(((await request(ops.url).get(`/accounts/${victim}`).expect(200)).body as { balance: number }).balance).toBe(100);

      // Every action was audited with who, what and target.
      await page.goto(`${ops.url}/chronicle/audit`);
      const audit = await page.textContent('main');
      expect(audit).toContain(`rabbitmq/${deadId}`);
      expect(audit).toContain('projection.rebuild');
      expect(audit).toContain('demo operator');
      await shot(page, 'audit');

      // An action without its CSRF token is refused, even from the signed-in browser.
      const withoutToken = await page.evaluate(async (url) => {
        const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'handler=rabbitmq' });
        return { status: response.status, text: await response.text() };
      }, `${ops.url}/chronicle/outbox/redrive`);
      expect(withoutToken.status).toBe(403);
      expect(withoutToken.text).toContain('CSRF token is missing or wrong');

      // The keyboard reaches the navigation, with a visible focus ring.
      await page.goto(`${ops.url}/chronicle`);
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      const focused = (await page.evaluate('({ tag: document.activeElement.tagName, outline: getComputedStyle(document.activeElement).outlineStyle })')) as { tag: string; outline: string };
      expect(focused.tag).toBe('A');
      expect(focused.outline).not.toBe('none');
      expect(failures).toEqual([]);
      await context.close();
    } finally {
      await consumer.close();
    }
  }, 120_000);

  it('without credentials every page goes to the login form and every action answers 401, showing no data', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    for (const path of ['', '/streams?q=account', '/feed', '/outbox', '/subscriptions', '/sagas', '/commands/x', '/audit']) {
      const response = await page.goto(`${ops.url}/chronicle${path}`);
      expect([path, new URL(page.url()).pathname, response?.status()]).toEqual([path, '/chronicle/login', 200]);
      expect(await page.textContent('body')).not.toMatch(/owner|account-|rabbitmq|balances/);
    }
    await shot(page, 'login');
    for (const path of ['/outbox/redrive', '/subscriptions/projection%3Abalances/redrive', '/subscriptions/projection%3Abalances/rebuild']) {
      const response = await context.request.post(`${ops.url}/chronicle${path}`, { form: { handler: 'rabbitmq' }, maxRedirects: 0 });
      expect([path, response.status()]).toEqual([path, 401]);
      expect(await response.text()).not.toMatch(/owner|account-|balances/);
    }
    // A wrong token is refused at the login form and sets no cookie.
    await page.goto(`${ops.url}/chronicle/login`);
    await page.fill('#token', 'not-the-token');
    await page.press('#token', 'Enter');
    await page.waitForLoadState('load');
    expect(await page.textContent('.error')).toContain('That token was refused');
    expect(await context.cookies()).toEqual([]);
    await context.close();
  }, 60_000);

  it('a read-only console shows the data but offers and accepts no action', async () => {
    const readOnly = await startDemo({ databaseUrl: POSTGRES_URL, schema, consoleToken: TOKEN, consoleReadOnly: true, outbox: { relay: false }, subscriptions: { run: false } });
    running.push(readOnly);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, readOnly.url);
    expect(await page.textContent('header')).toContain('read-only');
    await page.goto(`${readOnly.url}/chronicle/subscriptions/${encodeURIComponent('projection:balances')}`);
    expect(await page.locator('main form').count()).toBe(0);
    await page.goto(`${readOnly.url}/chronicle/outbox?handler=rabbitmq`);
    expect(await page.locator('main button').count()).toBe(0);
    await shot(page, 'read-only');
    // Even a well-formed action with its CSRF token is refused.
    const csrf = await page.locator('header input[name="_csrf"]').getAttribute('value');
    const refused = await page.evaluate(
      async ({ url, token }) => {
        const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `handler=rabbitmq&_csrf=${encodeURIComponent(token ?? '')}` });
        return { status: response.status, text: await response.text() };
      },
      { url: `${readOnly.url}/chronicle/outbox/redrive`, token: csrf },
    );
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('read-only');
    await context.close();
  }, 60_000);
});
