import { retryStartupStep, type StartupStepRetryOptions } from '@chronicle/core';
import { isTransientDatabaseError } from '../dialects/transient-database-error.js';

/** Options of {@link retryDatabaseStartupStep}: those of `retryStartupStep`, with the database's classification by default. */
export type DatabaseStartupStepOptions = Omit<StartupStepRetryOptions, 'isTransient'> & {
  /** Which errors are worth retrying. @default isTransientDatabaseError */
  isTransient?: (error: unknown) => boolean;
};

/**
 * Runs a start-up step that talks to the database, retrying it while the database is restarting or
 * not reachable yet ({@link isTransientDatabaseError}) up to the deadline; bad credentials, a
 * missing database or a failing statement fail at once. Applications can wrap their own start-up
 * work (their migrations, a cache warm-up) in it too.
 */
export function retryDatabaseStartupStep<T>(step: string, work: () => Promise<T>, options: DatabaseStartupStepOptions = {}): Promise<T> {
  return retryStartupStep(step, work, {
    advice:
      'Check that the database server is running and reachable from this instance (host, port, network, TLS; the server log says ' +
      'whether it is starting up or refusing), or raise the start-up deadline.',
    ...options,
    isTransient: options.isTransient ?? isTransientDatabaseError,
  });
}
