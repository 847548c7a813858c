import type { CommandMetadata } from '../commands/command-metadata.js';

/**
 * Inspects a command before it is queued; throwing rejects it with nothing written
 * (validation, authorization, rate limits).
 */
export interface CommandInterceptor {
  intercept(command: object, metadata: Readonly<CommandMetadata>): void | Promise<void>;
}
