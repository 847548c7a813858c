import { jest } from '@jest/globals';
import * as api from '@opentelemetry/api';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import { CommandGateway } from '../gateway/command-gateway.js';
import { OpenWallet, Wallet } from '../gateway/fixtures/wallet.fixture.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { ChronicleTelemetry } from './chronicle-telemetry.js';

const silent: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };
const VALID = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('Telemetry off, or without an SDK', () => {
  function gateway(journal: InMemoryJournal, telemetry?: ChronicleTelemetry): CommandGateway {
    return new CommandGateway({ catalog: new AggregateCatalog([Wallet]), journal, logger: silent, ...(telemetry ? { telemetry } : {}) });
  }

  it('starts no span and stores no context of its own, but passes a valid caller traceparent through to the events', async () => {
    const journal = new InMemoryJournal();
    const started = jest.spyOn(ChronicleTelemetry.prototype, 'startCommand');
    const gw = gateway(journal);
    await gw.execute(new OpenWallet('w-1', 'ada'));
    await gw.execute(new OpenWallet('w-2', 'bob'), { traceparent: VALID, tracestate: 'x'.repeat(600) });
    await gw.execute(new OpenWallet('w-3', 'cy'), { traceparent: 'garbage' });
    expect(started).not.toHaveBeenCalled();
    started.mockRestore();
    const metadata = async (stream: string) => (await journal.readStream(stream))[0]?.metadata;
    expect(await metadata('wallet-w-1')).not.toHaveProperty('traceparent');
    expect(await metadata('wallet-w-2')).toMatchObject({ traceparent: VALID });
    expect(await metadata('wallet-w-2')).not.toHaveProperty('tracestate');
    expect(await metadata('wallet-w-3')).not.toHaveProperty('traceparent');
  });

  it('with the API but no SDK registered, stays off: commands run and store only the context the caller gave', async () => {
    const journal = new InMemoryJournal();
    const telemetry = ChronicleTelemetry.fromApi(api);
    expect(telemetry.enabled).toBe(false);
    const gw = gateway(journal, telemetry);
    await gw.execute(new OpenWallet('n-1', 'ada'));
    await gw.execute(new OpenWallet('n-2', 'bob'), { traceparent: VALID });
    expect((await journal.readStream('wallet-n-1'))[0]?.metadata).not.toHaveProperty('traceparent');
    // The caller's trace still reaches the events.
    expect((await journal.readStream('wallet-n-2'))[0]?.metadata.traceparent).toBe(VALID);
  });

  it('finds the API when asked, and stays off while no SDK is registered', async () => {
    const telemetry = new ChronicleTelemetry();
    expect(telemetry.enabled).toBe(false);
    await expect(telemetry.activate()).resolves.toBe(false);
    await expect(telemetry.activate()).resolves.toBe(false);
  });

  it('is on with the providers it is given, even with no global SDK', () => {
    const noopMeterProvider = { getMeter: () => api.createNoopMeter() };
    const tracerProvider = { getTracer: () => api.trace.getTracer('x') };
    expect(ChronicleTelemetry.fromApi(api, { tracerProvider }).enabled).toBe(true);
    expect(ChronicleTelemetry.fromApi(api, { meterProvider: noopMeterProvider }).enabled).toBe(false);
  });
});
