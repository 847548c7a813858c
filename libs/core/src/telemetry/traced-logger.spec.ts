import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { ChronicleTelemetry } from './chronicle-telemetry.js';
import { tracedLogger } from './traced-logger.js';

describe('library log lines name the active trace', () => {
  const tracerProvider = new BasicTracerProvider();
  const tracer = tracerProvider.getTracer('test');
  beforeAll(() => api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
  afterAll(() => api.context.disable());

  function recording(telemetry: ChronicleTelemetry): { lines: string[]; logger: ReturnType<typeof tracedLogger> } {
    const lines: string[] = [];
    const sink = { log: (line: string) => lines.push(`log ${line}`), warn: (line: string) => lines.push(`warn ${line}`), error: (line: string) => lines.push(`error ${line}`) };
    return { lines, logger: tracedLogger(sink, telemetry) };
  }

  it('appends the trace id of the active span to log, warn and error lines, once', async () => {
    const { lines, logger } = recording(ChronicleTelemetry.fromApi(api, { tracerProvider }));
    const span = tracer.startSpan('work');
    const traceId = span.spanContext().traceId;
    await api.context.with(api.trace.setSpan(api.context.active(), span), async () => {
      await Promise.resolve();
      logger.log('one');
      logger.warn('two');
      logger.error('three');
      logger.warn(`already names it (command c-1, trace ${traceId})`);
    });
    logger.warn('outside any span');
    expect(lines).toEqual([
      `log one (trace ${traceId})`,
      `warn two (trace ${traceId})`,
      `error three (trace ${traceId})`,
      `warn already names it (command c-1, trace ${traceId})`,
      'warn outside any span',
    ]);
  });

  it('names the trace of a sampled-out command too: its span is not recorded but is the active one', () => {
    const telemetry = ChronicleTelemetry.fromApi(api, { tracerProvider });
    const { lines, logger } = recording(telemetry);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const span = telemetry.startCommand({
      aggregateType: 'wallet',
      aggregateId: 'w-1',
      commandType: 'OpenWallet',
      commandId: 'c-1',
      parent: { traceparent: `00-${traceId}-b7ad6b7169203331-00` },
    });
    telemetry.runIn(span, () => logger.warn('inside'));
    span.end();
    expect(lines).toEqual([`warn inside (trace ${traceId})`]);
  });

  it('leaves lines alone while telemetry is off', () => {
    const { lines, logger } = recording(new ChronicleTelemetry());
    const span = tracer.startSpan('work');
    api.context.with(api.trace.setSpan(api.context.active(), span), () => logger.warn('plain'));
    expect(lines).toEqual(['warn plain']);
  });
});
