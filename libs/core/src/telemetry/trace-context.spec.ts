import { outboxTraceHeaders, validTraceContext, MAX_TRACESTATE_LENGTH } from './trace-context.js';

const VALID = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('W3C trace context checks', () => {
  it('keeps a well-formed traceparent and a tracestate within bounds', () => {
    expect(validTraceContext(VALID, 'vendor=1,other=2')).toEqual({ traceparent: VALID, tracestate: 'vendor=1,other=2' });
    expect(validTraceContext(VALID)).toEqual({ traceparent: VALID });
  });

  it.each([
    ['not hex', '00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01'],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`],
    ['an all-zero span id', `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`],
    ['another version', '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ['upper case', VALID.toUpperCase()],
    ['trailing data', `${VALID}-00`],
    ['not a string', 42],
  ])('drops a traceparent with %s (and its tracestate)', (_, traceparent) => {
    expect(validTraceContext(traceparent, 'vendor=1')).toBeUndefined();
  });

  it('drops a tracestate longer than the bound or with control characters, keeping the traceparent', () => {
    expect(validTraceContext(VALID, `v=${'x'.repeat(MAX_TRACESTATE_LENGTH)}`)).toEqual({ traceparent: VALID });
    expect(validTraceContext(VALID, 'v=1\nx=2')).toEqual({ traceparent: VALID });
    expect(validTraceContext(VALID, 'x'.repeat(MAX_TRACESTATE_LENGTH))).toEqual({ traceparent: VALID, tracestate: 'x'.repeat(MAX_TRACESTATE_LENGTH) });
  });

  it("gives a publisher the relay span's context first, then the stored one, and nothing for a malformed one", () => {
    const relay = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    expect(outboxTraceHeaders({ traceContext: { traceparent: relay }, metadata: { traceparent: VALID } })).toEqual({ traceparent: relay });
    expect(outboxTraceHeaders({ metadata: { traceparent: VALID, tracestate: 'a=b' } })).toEqual({ traceparent: VALID, tracestate: 'a=b' });
    expect(outboxTraceHeaders({ metadata: { traceparent: 'garbage' } })).toEqual({});
  });
});
