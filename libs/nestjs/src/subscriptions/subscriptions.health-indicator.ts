import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { SubscriptionAdmin } from './subscription-admin.service.js';

/** Thresholds beyond which a subscription counts as unhealthy. */
export interface SubscriptionHealthThresholds {
  /** @default 0 (any parked event is unhealthy) */
  maxParked?: number;
  /** @default 60000 */
  maxLagMs?: number;
}

/**
 * A `@nestjs/terminus` indicator of the projections and sagas: per subscription the position, the
 * runner holding it, the lag, the parked events and the last error; down when parked events or lag
 * pass their threshold, or when no runner holds a subscription (none is running it).
 */
@Injectable()
export class SubscriptionsHealthIndicator {
  constructor(
    private readonly admin: SubscriptionAdmin,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(key = 'subscriptions', thresholds: SubscriptionHealthThresholds = {}): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const status = await this.admin.status();
    const subscriptions = Object.fromEntries(
      status.map((s) => [
        s.name,
        { position: s.position, runner: s.leaseOwner, lagMs: s.lagMs, parked: s.parked, lastError: s.lastError },
      ]),
    );
    const maxParked = thresholds.maxParked ?? 0;
    const maxLagMs = thresholds.maxLagMs ?? 60_000;
    const unhealthy = status.filter((s) => s.parked > maxParked || s.lagMs > maxLagMs || s.leaseOwner === null);
    if (unhealthy.length > 0) return indicator.down({ subscriptions, unhealthy: unhealthy.map((s) => s.name) });
    return indicator.up({ subscriptions });
  }
}
