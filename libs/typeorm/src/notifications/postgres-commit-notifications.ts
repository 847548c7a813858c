import type { DataSource } from 'typeorm';
import type { ChronicleLogger, NotificationSource } from '@chronicle/core';
import { PostgresNotificationListener } from './postgres-notification-listener.js';

/** Options of {@link PostgresCommitNotifications}. */
export interface PostgresCommitNotificationsOptions {
  /** The channel the journal and the outbox store notify. */
  channel: string;
  /** Where connection losses are reported. @default consoleLogger('PostgresNotificationListener') */
  logger?: ChronicleLogger;
  /** `application_name` of the listening connection, as `pg_stat_activity` shows it. @default 'chronicle-listener' */
  applicationName?: string;
}

/**
 * One LISTEN connection per instance, shared by every part that wants to be woken (the relay and
 * the subscriptions): each notification, and each reconnect after a lost connection (whose
 * notifications are gone), calls every listener. The connection is opened by `start` and
 * re-established with backoff when lost (`PostgresNotificationListener`); polling stays the fallback.
 */
export class PostgresCommitNotifications implements NotificationSource {
  private readonly listeners = new Set<(origin: string | undefined) => void>();
  private listener: PostgresNotificationListener | undefined;
  private starting: Promise<void> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: PostgresCommitNotificationsOptions,
  ) {}

  /** The channel listened to. */
  get channel(): string {
    return this.options.channel;
  }

  /** Whether the connection is up and listening right now. */
  get isListening(): boolean {
    return this.listener?.isListening ?? false;
  }

  /** The server process id of the listening connection, while it listens. */
  get backendPid(): number | undefined {
    return this.listener?.backendPid;
  }

  /**
   * Calls `listener` on every notification, with its payload as the origin of the unit that sent
   * it (undefined when empty), and with undefined each time listening resumes after a loss, until
   * the returned function is called.
   */
  onWake(listener: (origin: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): Promise<void> {
    this.starting ??= (async () => {
      const wake = (origin: string | undefined): void => {
        for (const listener of [...this.listeners]) listener(origin);
      };
      this.listener = new PostgresNotificationListener(this.dataSource, {
        channel: this.options.channel,
        onNotification: (payload) => wake(payload === '' ? undefined : payload),
        onReconnect: () => wake(undefined),
        ...(this.options.logger === undefined ? {} : { logger: this.options.logger }),
        ...(this.options.applicationName === undefined ? {} : { applicationName: this.options.applicationName }),
      });
      await this.listener.start();
    })();
    return this.starting;
  }

  /** Closes the connection; a later `start` opens a new one. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const listener = this.listener;
    this.listener = undefined;
    this.starting = undefined;
    await listener?.stop();
  }
}
