import type { Logger } from '@nestjs/common';
import type { NotificationSource } from '@chronicle/core';

/**
 * Calls `wake` on every wake-up of the storage's one notification source (each notification, and
 * each reconnect) and starts it (idempotent: the relay and the subscriptions share its connection).
 * A source that cannot start is logged as off (polling every `pollMs` still runs), never thrown.
 * Returns the function that stops calling `wake`.
 */
export async function startWakeUps(
  source: NotificationSource | null,
  wake: () => void,
  logger: Logger,
  what: string,
  pollMs: number,
): Promise<() => void> {
  if (!source) return () => undefined;
  const unsubscribe = source.onWake(wake);
  try {
    await source.start();
  } catch (error) {
    logger.warn(`${what} wake-ups are off (${(error as Error).message}); polling every ${pollMs} ms.`);
  }
  return unsubscribe;
}
