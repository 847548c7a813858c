import * as api from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';

const tracer = (): api.Tracer => api.trace.getTracer('chronicle-demo.http');

/**
 * A SERVER span per HTTP request (OpenTelemetry's HTTP semantic conventions: `http.request.method`,
 * `url.path`, `http.route`, `http.response.status_code`), a child of the W3C `traceparent` the
 * request carries, read through the globally registered propagator: a malformed `traceparent`
 * starts a new trace, an oversized `tracestate` is dropped, neither fails the request. The rest of
 * the request (body parsing, the controller, the commands it sends) runs in the span's context,
 * so the commands are its children. Without an SDK every call is the API's no-op.
 *
 * Hand-written rather than `@opentelemetry/instrumentation-http`/`-express`: those patch `node:http`
 * and Express through module-loading hooks, which under ESM need the instrumentation's loader
 * registered with `--import` before the application loads, and do not run under Jest's ESM VM,
 * where the acceptance test runs the demo. This is the API's propagation and one span.
 */
export function traceRequests(request: Request, response: Response, next: NextFunction): void {
  const parent = api.propagation.extract(api.ROOT_CONTEXT, request.headers);
  const method = request.method;
  const span = tracer().startSpan(
    method,
    { kind: api.SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': request.path, 'url.scheme': request.protocol } },
    parent,
  );
  response.once('close', () => {
    // Express sets `request.route` when a route matched: the low-cardinality name the conventions ask for.
    const route = (request.route as { path?: unknown } | undefined)?.path;
    if (typeof route === 'string') {
      span.setAttribute('http.route', `${request.baseUrl}${route}`);
      span.updateName(`${method} ${request.baseUrl}${route}`);
    }
    span.setAttribute('http.response.status_code', response.statusCode);
    if (response.statusCode >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
    span.end();
  });
  api.context.with(api.trace.setSpan(parent, span), next);
}
