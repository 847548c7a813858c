import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { retryDatabaseStartupStep, runChronicleMigrations } from '@chronicle/typeorm';
import type { DemoConfig } from '../config/demo-config.js';
import { DEMO_CONFIG } from '../outbox/demo-config.token.js';
import { CreateAccountBalances1767484800000 } from './create-account-balances.migration.js';
import { NullableAccountOwner1796601600000 } from './nullable-account-owner.migration.js';

/**
 * Applies the demo's own migrations at start-up, before projections start, through Chronicle's
 * migrator: under its advisory lock, so instances starting together do not race; retried while the
 * database restarts, like Chronicle's own start-up steps.
 */
@Injectable()
export class DemoMigrations implements OnModuleInit {
  private readonly logger = new Logger(DemoMigrations.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(DEMO_CONFIG) private readonly config: DemoConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    await retryDatabaseStartupStep(
      'demo migrations',
      () =>
        runChronicleMigrations(this.dataSource, {
          schema: this.config.databaseUrl ? this.config.schema : undefined,
          tablePrefix: 'demo_',
          migrations: [CreateAccountBalances1767484800000, NullableAccountOwner1796601600000],
        }),
      { logger: this.logger, ...(this.config.startupDeadlineMs === undefined ? {} : { deadlineMs: this.config.startupDeadlineMs }) },
    );
  }
}
