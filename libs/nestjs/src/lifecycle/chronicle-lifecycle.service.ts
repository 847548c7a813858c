import { Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { Chronicle } from '@chronicle/core';

/**
 * Starts and stops the Chronicle runtime with the application: `start()` in
 * `onApplicationBootstrap` (migrations, the outbox handlers' registration and backfill, each
 * retried while the database is unavailable for up to `startup.deadlineMs`; then the notifications
 * and the timers), `stop()` before shutdown (timers and wake-ups stopped, the steps in flight
 * finished, leases given back, commands in flight awaited).
 */
@Injectable()
export class ChronicleLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(private readonly chronicle: Chronicle) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.chronicle.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.chronicle.stop();
  }
}
