import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import type { DemoTelemetry } from './demo-telemetry.js';
import { DEMO_TELEMETRY } from './demo-telemetry.token.js';

/**
 * Shuts the demo's OpenTelemetry SDK down with the application: after Chronicle stopped (its relay
 * and runners stop in `beforeApplicationShutdown`), so their last spans are flushed.
 */
@Injectable()
export class DemoTelemetryShutdown implements OnApplicationShutdown {
  constructor(@Optional() @Inject(DEMO_TELEMETRY) private readonly telemetry?: DemoTelemetry) {}

  async onApplicationShutdown(): Promise<void> {
    await this.telemetry?.shutdown();
  }
}
