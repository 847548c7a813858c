import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { OutboxHealthIndicator } from '../outbox/outbox.health-indicator.js';
import { SubscriptionsHealthIndicator } from '../subscriptions/subscriptions.health-indicator.js';

/**
 * The `@nestjs/terminus` health indicators of the outbox and of the projections and sagas, for an
 * application's own health controller. Import it beside `EventSourcingModule` (which must be
 * global, its default, or imported in the same module): it lives behind
 * `@chronicle/nestjs/terminus` so that applications without `@nestjs/terminus` never load it.
 *
 * ```ts
 * imports: [EventSourcingModule.forRoot({ ... }), ChronicleHealthModule]
 * // then inject OutboxHealthIndicator and SubscriptionsHealthIndicator into a controller
 * ```
 */
@Module({
  imports: [TerminusModule],
  providers: [OutboxHealthIndicator, SubscriptionsHealthIndicator],
  exports: [OutboxHealthIndicator, SubscriptionsHealthIndicator, TerminusModule],
})
export class ChronicleHealthModule {}
