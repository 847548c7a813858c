import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Module, type DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import pg from 'pg';
import { DEFAULT_STARTUP_DEADLINE_MS } from '@chronicle/core';
import { ChronicleConsoleModule } from '@chronicle/console';
import { EventSourcingModule } from '@chronicle/nestjs';
import { ChronicleHealthModule } from '@chronicle/nestjs/terminus';
import { isTransientDatabaseError } from '@chronicle/typeorm';
import { Account } from './accounts/account.aggregate.js';
import { AccountsController } from './accounts/accounts.controller.js';
import { AccountsService } from './accounts/accounts.service.js';
import { OwnerAccountLimit } from './accounts/owner-account-limit.decision.js';
import { AccountBalance } from './balances/account-balance.entity.js';
import { BalancesProjection } from './balances/balances.projection.js';
import { DemoMigrations } from './migrations/demo-migrations.service.js';
import { MoneyTransferSaga } from './transfers/money-transfer.saga.js';
import { Transfer } from './transfers/transfer.aggregate.js';
import { TransfersController } from './transfers/transfers.controller.js';
import { TransfersService } from './transfers/transfers.service.js';
import type { DemoConfig } from './config/demo-config.js';
import { HealthController } from './health/health.controller.js';
import { DemoConsoleGuard } from './console/demo-console.guard.js';
import { DEMO_CONFIG } from './outbox/demo-config.token.js';
import { LogEventsPublisher } from './outbox/log-events.publisher.js';
import { RabbitMqEventsPublisher } from './outbox/rabbitmq-events.publisher.js';
import type { DemoTelemetry } from './telemetry/demo-telemetry.js';
import { DemoTelemetryShutdown } from './telemetry/demo-telemetry-shutdown.service.js';
import { DEMO_TELEMETRY } from './telemetry/demo-telemetry.token.js';

const STARTUP_RETRY_DELAY_MS = 500;

function typeOrmOptions(config: DemoConfig): TypeOrmModuleOptions {
  if (config.databaseUrl) {
    // `driver` is passed explicitly: TypeORM's own require('pg') fails under ESM test loaders.
    return {
      type: 'postgres',
      driver: pg,
      url: config.databaseUrl,
      // The demo's own tables (the balances read model) live beside Chronicle's.
      ...(config.schema ? { schema: config.schema } : {}),
      autoLoadEntities: true,
      extra: { max: 10 },
      // Connecting is the application's start-up step (TypeOrmModule's): retried like Chronicle's own,
      // only while the database is unavailable, for the same deadline.
      retryAttempts: Math.max(1, Math.ceil((config.startupDeadlineMs ?? DEFAULT_STARTUP_DEADLINE_MS) / STARTUP_RETRY_DELAY_MS)),
      retryDelay: STARTUP_RETRY_DELAY_MS,
      toRetry: isTransientDatabaseError,
    };
  }
  if (config.sqlitePath !== ':memory:') mkdirSync(dirname(config.sqlitePath), { recursive: true });
  return { type: 'better-sqlite3', database: config.sqlitePath, autoLoadEntities: true, enableWAL: true };
}

/** The console's path in the demo. */
export const DEMO_CONSOLE_PATH = '/chronicle';

/** The operations console, only when a token is configured: without one nothing is mounted. */
function consoleModules(config: DemoConfig): DynamicModule[] {
  if (!config.consoleToken) return [];
  return [
    ChronicleConsoleModule.forRoot({
      path: DEMO_CONSOLE_PATH,
      guard: new DemoConsoleGuard(config.consoleToken),
      // The demo has one operator token: whoever holds it may act, unless the console is read-only.
      canAct: () => true,
      readOnly: config.consoleReadOnly ?? false,
      tables: { schema: config.databaseUrl ? config.schema : undefined },
    }),
  ];
}

/** The demo bank. */
@Module({})
export class AppModule {
  /** The demo for a configuration; `telemetry` is the SDK `createDemoApp` started, shut down with the application. */
  static forConfig(config: DemoConfig, telemetry?: DemoTelemetry): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(typeOrmOptions(config)),
        CqrsModule.forRoot(),
        TerminusModule,
        ChronicleHealthModule,
        TypeOrmModule.forFeature([AccountBalance]),
        EventSourcingModule.forRoot({
          gateway: config.gateway,
          ...(config.startupDeadlineMs === undefined ? {} : { startup: { deadlineMs: config.startupDeadlineMs } }),
          outbox: config.outbox,
          subscriptions: config.subscriptions,
          // The owner's name is personal data (AccountOpened); its data keys live in chronicle_data_keys.
          personalData: { masterKeys: config.masterKeys },
          aggregates: [Account, Transfer],
          decisions: [OwnerAccountLimit],
          registerEntities: true,
          tables: { schema: config.databaseUrl ? config.schema : undefined },
        }),
        ...consoleModules(config),
      ],
      controllers: [AccountsController, TransfersController, HealthController],
      providers: [
        DemoMigrations,
        AccountsService,
        OwnerAccountLimit,
        TransfersService,
        BalancesProjection,
        MoneyTransferSaga,
        { provide: DEMO_CONFIG, useValue: config },
        ...(telemetry ? [{ provide: DEMO_TELEMETRY, useValue: telemetry }, DemoTelemetryShutdown] : []),
        // Events leave through the outbox: to RabbitMQ when AMQP_URL is set, else to the log.
        config.amqpUrl ? RabbitMqEventsPublisher : LogEventsPublisher,
      ],
    };
  }
}
