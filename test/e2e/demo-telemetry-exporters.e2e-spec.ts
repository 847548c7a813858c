import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startDemo, type RunningDemo } from '../support/demo-app.js';
import { buildDemo, launchDemo } from '../support/demo-process.js';

/**
 * The demo's environment switches, end to end on SQLite: `CHRONICLE_METRICS=prometheus` serves
 * `GET /metrics` through the SDK's Prometheus exporter, and `OTEL_EXPORTER_OTLP_ENDPOINT` sends
 * traces and metrics over OTLP/HTTP (to a receiver this test runs), continuing a caller's
 * `traceparent`.
 */
describe('demo telemetry from its configuration', () => {
  let demo: RunningDemo | undefined;
  afterEach(async () => {
    await demo?.close();
    demo = undefined;
  });

  it('serves GET /metrics in Prometheus text format, with the command histogram and the runtime gauges', async () => {
    demo = await startDemo({ telemetry: { metrics: 'prometheus' } });
    const http = request(demo.url);
    const { id } = (await http.post('/accounts').send({ owner: 'Ada' }).expect(201)).body as { id: string };
    await http.post(`/accounts/${id}/deposits`).send({ amount: 5 }).expect(200);
    await http.post(`/accounts/${id}/withdrawals`).send({ amount: 50 }).expect(422);

    const metrics = await http.get('/metrics').expect(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    const text = metrics.text;
    expect(text).toMatch(/^# TYPE chronicle_command_duration histogram$/m);
    expect(text).toMatch(/^# UNIT chronicle_command_duration s$/m);
    const accepted = { chronicle_aggregate_type: 'account', chronicle_command_outcome: 'accepted' };
    // Opening is the open-accounts limit's decision: its commands are counted under the decision's name.
    expect(sample(text, 'chronicle_command_duration_count', { ...accepted, chronicle_aggregate_type: 'owner_accounts' })).toBe(1);
    expect(sample(text, 'chronicle_command_duration_count', accepted)).toBe(1);
    expect(sample(text, 'chronicle_command_duration_count', { ...accepted, chronicle_command_outcome: 'rejected' })).toBe(1);
    // Buckets in seconds (the SDK's defaults are for milliseconds): commands of a few ms spread over them.
    expect(sample(text, 'chronicle_command_duration_bucket', { ...accepted, le: '0.0005' })).toBeDefined();
    expect(sample(text, 'chronicle_command_duration_bucket', { ...accepted, le: '10' })).toBe(1);
    expect(sample(text, 'chronicle_command_duration_bucket', { ...accepted, le: '5000' })).toBeUndefined();
    // Observable gauges, read from the stores at the scrape: the log publisher's outbox and the balances projection.
    expect(sample(text, 'chronicle_outbox_pending', { chronicle_outbox_handler: 'log' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'chronicle_subscription_parked', { chronicle_subscription: 'projection:balances' })).toBe(0);
    expect(sample(text, 'chronicle_cache_size')).toBe(1);
    // Only GET: another method is not the exporter's.
    await http.post('/metrics').send({}).expect(404);
  });

  it('sends the spans and metrics over OTLP/HTTP, continuing the traceparent of the request', async () => {
    const receiver = await otlpReceiver();
    try {
      demo = await startDemo({ telemetry: { otlpEndpoint: `${receiver.url}/`, serviceName: 'demo-under-test', metricExportIntervalMs: 100 } });
      const http = request(demo.url);
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      await http.post('/accounts').set('traceparent', `00-${traceId}-b7ad6b7169203331-01`).send({ owner: 'Ada' }).expect(201);
      // A malformed traceparent and an oversized tracestate start a new trace; the command still runs.
      const bob = (await http.post('/accounts').set('traceparent', '00-not-a-trace-01').set('tracestate', `a=${'x'.repeat(600)}`).send({ owner: 'Bob' }).expect(201))
        .body as { id: string };
      // A valid traceparent with an oversized tracestate: the trace continues, the tracestate is not stored.
      const cy = await http.post('/accounts').set('traceparent', `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`).set('tracestate', `a=${'x'.repeat(600)}`).send({ owner: 'Cy' }).expect(201);
      const [opened] = (await http.get(`/accounts/${(cy.body as { id: string }).id}/events`).expect(200)).body as Array<{ metadata: Record<string, unknown> }>;
      expect(opened?.metadata.traceparent).toMatch(new RegExp(`^00-${'c'.repeat(32)}-[0-9a-f]{16}-01$`));
      expect(opened?.metadata).not.toHaveProperty('tracestate');
      // Opens are conditional appends (the open-accounts limit), which commit alone; a deposit goes through group commit.
      const depositTraceId = '1bf7651916cd43dd8448eb211c80319d';
      await http.post(`/accounts/${bob.id}/deposits`).set('traceparent', `00-${depositTraceId}-c7ad6b7169203332-01`).send({ amount: 5 }).expect(200);
      // Metrics are pushed periodically, the runtime's gauges with them (read from the stores then).
      await waitFor(() => receiver.bodies('/v1/metrics').flatMap((body) => metricNamesOf(body)).includes('chronicle.outbox.pending'), 'the gauges over OTLP');
      // Closing the application shuts the SDK down: the batch processor flushes the spans.
      await demo.close();
      demo = undefined;

      const spans = receiver.bodies('/v1/traces').flatMap((body) => spansOf(body));
      expect(spans.every((span) => span.service === 'demo-under-test')).toBe(true);
      const server = spans.find((span) => span.name === 'POST /accounts' && span.traceId === traceId);
      expect(server?.parentSpanId).toBe('b7ad6b7169203331');
      const command = spans.find((span) => span.name === 'chronicle.command' && span.traceId === traceId);
      expect(command?.parentSpanId).toBe(server?.spanId);
      const others = spans.filter((span) => span.name === 'chronicle.command' && span.traceId !== traceId && span.traceId !== depositTraceId && span.traceId !== 'c'.repeat(32));
      expect(others).toHaveLength(1);
      const otherServer = spans.find((span) => span.spanId === others[0]!.parentSpanId);
      expect(otherServer?.name).toBe('POST /accounts');
      expect(otherServer?.parentSpanId).toBeUndefined();

      const metricNames = receiver.bodies('/v1/metrics').flatMap((body) => metricNamesOf(body));
      expect(metricNames).toEqual(expect.arrayContaining(['chronicle.command.duration', 'chronicle.commit.batch_size', 'chronicle.subscription.lag']));
    } finally {
      await receiver.close();
    }
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the compiled demo reads its telemetry switches from the environment', () => {
  it('with OTEL_EXPORTER_OTLP_ENDPOINT and CHRONICLE_METRICS=prometheus: GET /metrics answers, spans reach the receiver', async () => {
    await buildDemo();
    const receiver = await otlpReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'chronicle-otel-'));
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    try {
      const demo = await launchDemo({
        SQLITE_PATH: join(dir, 'bank.sqlite'),
        DATABASE_URL: '',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        CHRONICLE_METRICS: 'prometheus',
        OTEL_SERVICE_NAME: 'bank-process',
      });
      try {
        expect(demo.output()).toContain(`OTLP to ${receiver.url}, Prometheus metrics at /metrics`);
        await request(demo.url).post('/accounts').set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`).send({ owner: 'Ada' }).expect(201);
        const metrics = await request(demo.url).get('/metrics').expect(200);
        expect(sample(metrics.text, 'chronicle_command_duration_count', { chronicle_command_outcome: 'accepted' })).toBe(1);
        // SIGTERM closes the application, which shuts the SDK down: the batched spans are sent.
        demo.child.kill('SIGTERM');
        await demo.exited;
      } finally {
        demo.child.kill('SIGKILL');
      }
      const spans = receiver.bodies('/v1/traces').flatMap((body) => spansOf(body));
      const command = spans.find((span) => span.name === 'chronicle.command');
      expect(command).toMatchObject({ traceId, service: 'bank-process' });
      expect(spans.find((span) => span.spanId === command?.parentSpanId)?.name).toBe('POST /accounts');
    } finally {
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses an unknown CHRONICLE_METRICS at start, naming it', async () => {
    await buildDemo();
    await expect(launchDemo({ SQLITE_PATH: ':memory:', DATABASE_URL: '', CHRONICLE_METRICS: 'statsd' })).rejects.toThrow(/CHRONICLE_METRICS must be "prometheus"/);
  }, 300_000);
});

/** The value of one Prometheus sample whose labels include `labels`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)/i.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_][a-z0-9_]*)="([^"]*)"/gi)].map((pair) => [pair[1], pair[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  service?: string;
}

/** The spans of an OTLP/JSON export request. */
function spansOf(body: unknown): OtlpSpan[] {
  const resourceSpans = (body as { resourceSpans?: unknown[] }).resourceSpans ?? [];
  return resourceSpans.flatMap((resource) => {
    const { resource: attributes, scopeSpans = [] } = resource as { resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> };
    const service = attributes?.attributes?.find((attribute) => attribute.key === 'service.name')?.value.stringValue;
    return scopeSpans.flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        name: span.name,
        traceId: span.traceId,
        spanId: span.spanId,
        ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
        ...(service ? { service } : {}),
      })),
    );
  });
}

function metricNamesOf(body: unknown): string[] {
  const resourceMetrics = (body as { resourceMetrics?: Array<{ scopeMetrics?: Array<{ metrics?: Array<{ name: string }> }> }> }).resourceMetrics ?? [];
  return resourceMetrics.flatMap((resource) => (resource.scopeMetrics ?? []).flatMap((scope) => (scope.metrics ?? []).map((metric) => metric.name)));
}

/** An OTLP/HTTP receiver that keeps the JSON bodies it is sent, by path. */
async function otlpReceiver(): Promise<{ url: string; bodies(path: string): unknown[]; close(): Promise<void> }> {
  const received: Array<{ path: string; body: unknown }> = [];
  const server: Server = createServer((incoming: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      received.push({ path: incoming.url ?? '', body: incoming.headers['content-type']?.includes('json') ? JSON.parse(text) : text });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies: (path) => received.filter((each) => each.path === path).map((each) => each.body),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
