import { Injectable } from '@nestjs/common';
import { LogOutboxPublisher, OutboxHandler } from '@chronicle/nestjs';

/** Without a broker, the demo's events leave through the outbox into the log. */
@Injectable()
@OutboxHandler({ name: 'log', events: '*' })
export class LogEventsPublisher extends LogOutboxPublisher {}
