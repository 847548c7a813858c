import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { PostgresNotificationListener, outboxNotifyChannel, type ChronicleTableOptions } from '@chronicle/typeorm';
import type { OutboxWakeUps } from './outbox-wake-ups.js';

/**
 * Wakes the relay (or the subscription runners) when a transaction that wrote outbox entries (or
 * events) commits: LISTEN on Chronicle's NOTIFY channel, over a dedicated connection that is
 * re-established when lost.
 */
export class PostgresOutboxWakeUps implements OutboxWakeUps {
  private listener: PostgresNotificationListener | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: ChronicleTableOptions | undefined,
    private readonly purpose: 'outbox' | 'subscriptions' = 'outbox',
  ) {}

  /** The channel listened to (the journal and the outbox store notify it). */
  get channel(): string {
    return outboxNotifyChannel(this.tables);
  }

  async start(onWake: () => void, onReconnect: () => void): Promise<void> {
    this.listener = new PostgresNotificationListener(this.dataSource, {
      channel: this.channel,
      onNotification: onWake,
      onReconnect,
      logger: new Logger(this.purpose === 'outbox' ? 'OutboxWakeUps' : 'SubscriptionWakeUps'),
      applicationName: `chronicle-${this.purpose}-listener`,
    });
    await this.listener.start();
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }
}
