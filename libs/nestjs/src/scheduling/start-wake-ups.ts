import type { Logger } from '@nestjs/common';
import type { OutboxWakeUps } from '../outbox/outbox-wake-ups.js';

/**
 * Starts a NOTIFY wake-up source calling `wake` on every notification and after every reconnect;
 * a source that cannot start is logged as off (polling every `pollMs` still runs), never thrown.
 */
export async function startWakeUps(
  wakeUps: OutboxWakeUps | null | undefined,
  wake: () => void,
  logger: Logger,
  what: string,
  pollMs: number,
): Promise<void> {
  if (!wakeUps) return;
  try {
    await wakeUps.start(wake, wake);
  } catch (error) {
    logger.warn(`${what} wake-ups are off (${(error as Error).message}); polling every ${pollMs} ms.`);
  }
}
