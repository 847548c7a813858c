import { OutboxHandler, type OutboxMessage, type OutboxPublisher } from '@chronicle/core';

/**
 * An outbox handler that "publishes" every event as a log line: where a real worker would send
 * to a broker. Each committed event reaches it at least once, in order per account.
 */
@OutboxHandler({ name: 'log', events: '*' })
export class LogPublisher implements OutboxPublisher {
  readonly lines: string[] = [];

  constructor(private readonly print: (line: string) => void) {}

  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    for (const message of batch) {
      const line = `published ${message.eventType} v${message.version} of ${message.aggregateType}/${message.aggregateId}`;
      this.lines.push(line);
      this.print(line);
    }
  }
}
