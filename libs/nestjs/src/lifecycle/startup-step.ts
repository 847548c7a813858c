import { Logger } from '@nestjs/common';
import { retryDatabaseStartupStep } from '@chronicle/typeorm';
import type { EventSourcingModuleOptions } from '../options/event-sourcing-module-options.interface.js';

const logger = new Logger('ChronicleStartup');

/**
 * Runs one of the module's start-up steps that talk to the database, retrying it while the database
 * is unavailable for up to `startup.deadlineMs` (see `retryDatabaseStartupStep`), so an instance
 * started during a fail-over waits for the database instead of crashing into a restart loop. A
 * step running in the background passes the `signal` that shutdown aborts.
 */
export function runStartupStep<T>(
  options: EventSourcingModuleOptions,
  step: string,
  work: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  return retryDatabaseStartupStep(step, work, {
    logger,
    ...(signal === undefined ? {} : { signal }),
    ...(options.startup?.deadlineMs === undefined ? {} : { deadlineMs: options.startup.deadlineMs }),
    advice:
      "Check that the TypeORM DataSource's database server is running and reachable from this instance (host, port, network, TLS; " +
      "the server log says whether it is starting up or refusing), or raise EventSourcingModule's startup.deadlineMs.",
  });
}
