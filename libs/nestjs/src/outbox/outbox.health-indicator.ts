import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { OutboxMonitor } from './outbox-monitor.service.js';

/** Thresholds beyond which the outbox counts as unhealthy. */
export interface OutboxHealthThresholds {
  /** @default 60000 */
  maxOldestPendingAgeMs?: number;
  /** @default 0 (any dead letter is unhealthy) */
  maxDeadLetters?: number;
}

/**
 * A `@nestjs/terminus` indicator of the outbox: per handler the backlog, the age of the oldest
 * pending entry and the dead letters; down when an age or a dead-letter count passes its threshold.
 */
@Injectable()
export class OutboxHealthIndicator {
  constructor(
    private readonly monitor: OutboxMonitor,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(key = 'outbox', thresholds: OutboxHealthThresholds = {}): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const status = await this.monitor.status();
    const handlers = Object.fromEntries(
      status.map((s) => [s.handler, { pending: s.pending, leased: s.leased, deadLettered: s.deadLettered, oldestPendingAgeMs: s.oldestPendingAgeMs }]),
    );
    const maxAge = thresholds.maxOldestPendingAgeMs ?? 60_000;
    const maxDead = thresholds.maxDeadLetters ?? 0;
    const unhealthy = status.filter((s) => s.oldestPendingAgeMs > maxAge || s.deadLettered > maxDead);
    if (unhealthy.length > 0) return indicator.down({ handlers, unhealthy: unhealthy.map((s) => s.handler) });
    return indicator.up({ handlers });
  }
}
