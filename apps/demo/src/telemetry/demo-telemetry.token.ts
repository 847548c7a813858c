/** Injection token of the demo's `DemoTelemetry` (undefined when telemetry is off). */
export const DEMO_TELEMETRY = Symbol('DEMO_TELEMETRY');
