import type { OutboxHandlerSettings } from '@chronicle/core';
import { outboxHandlerSettingsOf } from '@chronicle/core/internal';

/**
 * `@OutboxHandler` is core's decorator: one declaration that both the Nest module (which
 * discovers the providers carrying it) and the framework-free `createChronicle` read. It is
 * re-exported here so a Nest app imports its decorators from `@chronicle/nestjs`.
 */
export { OutboxHandler, type OutboxHandlerDecoratorOptions as OutboxHandlerOptions } from '@chronicle/core';

/** The `@OutboxHandler` settings of a class, if it has the decorator. */
export function getOutboxHandlerMetadata(target: object): OutboxHandlerSettings | undefined {
  return outboxHandlerSettingsOf(target);
}
