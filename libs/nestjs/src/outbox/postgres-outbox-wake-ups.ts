import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { PostgresNotificationListener, outboxNotifyChannel, type ChronicleTableOptions } from '@chronicle/typeorm';
import type { OutboxWakeUps } from './outbox-wake-ups.js';

/**
 * Wakes the relay when a transaction that wrote outbox entries commits: LISTEN on the outbox
 * store's NOTIFY channel, over a dedicated connection that is re-established when lost.
 */
export class PostgresOutboxWakeUps implements OutboxWakeUps {
  private listener: PostgresNotificationListener | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: ChronicleTableOptions | undefined,
  ) {}

  async start(onWake: () => void, onReconnect: () => void): Promise<void> {
    this.listener = new PostgresNotificationListener(this.dataSource, {
      channel: outboxNotifyChannel(this.tables),
      onNotification: onWake,
      onReconnect,
      logger: new Logger('OutboxWakeUps'),
      applicationName: 'chronicle-outbox-listener',
    });
    await this.listener.start();
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }
}
