import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as api from '@opentelemetry/api';
import { ChronicleTelemetry, OutboxHandler } from '@chronicle/core';
import { OpenLedger } from '../fixtures/ledger.aggregate.js';
import { telemetryFixture, type TelemetryHarness } from '../support/telemetry-harness.js';

const otel = telemetryFixture();
beforeAll(() => otel.enable());
afterEach(() => otel.closeAll());
afterAll(() => otel.disable());

describe('Two runtimes in one process sharing a MeterProvider (one per tenant database)', () => {
  it('report their gauges as separate series when each names its instance', async () => {
    const meter = otel.meter();
    const runtime = (instance: string): Promise<TelemetryHarness> => {
      @OutboxHandler({ name: 'broker', events: '*' })
      class Broker {
        async publish(): Promise<void> {}
      }
      return otel.harness(
        {
          outboxHandlers: [new Broker()],
          telemetry: ChronicleTelemetry.fromApi(api, { tracerProvider: otel.tracerProvider, meterProvider: meter.meterProvider, instance }),
          options: { outbox: { relay: false, pollIntervalMs: 600_000 } },
        },
        meter,
      );
    };
    const tenantA = await runtime('tenant-a');
    await runtime('tenant-b');
    for (const id of ['1', '2', '3']) await tenantA.chronicle.execute(new OpenLedger(id, 'ada'));

    const pending = (instance: string) => otel.gauge(tenantA, 'chronicle.outbox.pending', { 'chronicle.outbox.handler': 'broker', 'chronicle.instance': instance });
    expect(await pending('tenant-a')).toBe(3);
    expect(await pending('tenant-b')).toBe(0);
    expect(await otel.gauge(tenantA, 'chronicle.cache.size', { 'chronicle.instance': 'tenant-b' })).toBe(0);
  });
});
