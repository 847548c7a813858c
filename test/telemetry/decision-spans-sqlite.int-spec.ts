import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { DataSource } from 'typeorm';
import { ChronicleTelemetry, createChronicle, type Chronicle } from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { CourseCapacity, Enrol, Student } from '../../libs/core/src/decisions/fixtures/course.fixture.js';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('telemetry of decisions (SQLite)', () => {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const meterProvider = new MeterProvider();
  let dataSource: DataSource;
  let chronicle: Chronicle<unknown>;

  beforeAll(async () => {
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    dataSource = await new DataSource({ type: 'better-sqlite3', database: ':memory:' }).initialize();
    chronicle = createChronicle<unknown>({
      storage: createTypeOrmStorage(dataSource) as never,
      aggregates: [Student],
      decisions: [new CourseCapacity(1)],
      logger: () => quiet,
      telemetry: ChronicleTelemetry.fromApi(api, { tracerProvider, meterProvider }),
    });
    await chronicle.start();
  });
  afterAll(async () => {
    await chronicle.stop();
    await dataSource.destroy();
    api.context.disable();
  });

  it('records a chronicle.command span per decision, named after the decision handler, with its outcome', async () => {
    await chronicle.execute(new Enrol('ann', 'math'), { commandId: 'e1' });
    await expect(chronicle.execute(new Enrol('bob', 'math'))).rejects.toThrow(/full/);
    await chronicle.execute(new Enrol('ann', 'math'), { commandId: 'e1' });
    const commands = spans.getFinishedSpans().filter((span) => span.name === 'chronicle.command');
    expect(commands.map((span) => [span.attributes['chronicle.aggregate.type'], span.attributes['chronicle.aggregate.id'], span.attributes['chronicle.command.outcome']])).toEqual([
      ['course_capacity', 'ann', 'accepted'],
      ['course_capacity', 'bob', 'rejected'],
      ['course_capacity', 'ann', 'replayed'],
    ]);
    expect(commands[0]!.attributes).toMatchObject({ 'chronicle.command.type': 'Enrol', 'chronicle.command.id': 'e1', 'chronicle.command.resulting_version': 1, 'chronicle.command.retries': 0 });
    // The decision's events carry the span's trace context, as an aggregate's do.
    const [stored] = await chronicle.storage.journal.readStream('student-ann');
    expect(stored?.metadata.traceparent).toContain(commands[0]!.spanContext().traceId);
  });
});
