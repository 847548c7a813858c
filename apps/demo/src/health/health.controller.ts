import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator, type HealthCheckResult } from '@nestjs/terminus';
import { OutboxHealthIndicator, SubscriptionsHealthIndicator } from '@chronicle/nestjs/terminus';

/**
 * `GET /health`: the database; the outbox backlog, oldest pending age and dead letters per handler;
 * and per projection and saga its position, runner, lag, parked events and last error.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly outbox: OutboxHealthIndicator,
    private readonly subscriptions: SubscriptionsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Database, outbox and projection/saga health (503 when one is down)' })
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: 2_000 }),
      () => this.outbox.check('outbox'),
      () => this.subscriptions.check('subscriptions'),
    ]);
  }
}
