import { demoConfigFromEnv } from './demo-config.js';

describe('the demo configuration: telemetry from the environment', () => {
  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT or CHRONICLE_METRICS', () => {
    expect(demoConfigFromEnv({}).telemetry).toBeUndefined();
    expect(demoConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: '', CHRONICLE_METRICS: '' }).telemetry).toBeUndefined();
  });

  it('reads the OTLP endpoint, the Prometheus switch, the export interval and the service name', () => {
    expect(
      demoConfigFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        CHRONICLE_METRICS: 'prometheus',
        OTEL_METRIC_EXPORT_INTERVAL: '15000',
        OTEL_SERVICE_NAME: 'bank',
      }).telemetry,
    ).toEqual({ otlpEndpoint: 'http://collector:4318', metrics: 'prometheus', metricExportIntervalMs: 15_000, serviceName: 'bank' });
    expect(demoConfigFromEnv({ CHRONICLE_METRICS: 'prometheus' }).telemetry).toEqual({ metrics: 'prometheus' });
  });

  it('refuses values it cannot use, naming the variable', () => {
    expect(() => demoConfigFromEnv({ CHRONICLE_METRICS: 'statsd' })).toThrow(/CHRONICLE_METRICS must be "prometheus".*"statsd"/);
    expect(() => demoConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL/);
    expect(() => demoConfigFromEnv({ CHRONICLE_METRICS: 'prometheus', OTEL_METRIC_EXPORT_INTERVAL: 'soon' })).toThrow(/OTEL_METRIC_EXPORT_INTERVAL/);
  });
});

describe('the demo configuration: the proxy in front of it', () => {
  it('reads CHRONICLE_TRUST_PROXY as Express\'s trust proxy setting, and trusts no proxy without it', () => {
    expect(demoConfigFromEnv({}).trustProxy).toBeUndefined();
    expect(demoConfigFromEnv({ CHRONICLE_TRUST_PROXY: '' }).trustProxy).toBeUndefined();
    expect(demoConfigFromEnv({ CHRONICLE_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(demoConfigFromEnv({ CHRONICLE_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(demoConfigFromEnv({ CHRONICLE_TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });
});
