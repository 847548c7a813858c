/**
 * Tells the relay that new entries may be waiting, sooner than its polling would notice
 * (PostgreSQL LISTEN/NOTIFY). Polling stays on regardless: a wake-up is an optimisation.
 */
export interface OutboxWakeUps {
  /** Starts listening; `onWake` on each notification, `onReconnect` after a lost connection came back. */
  start(onWake: () => void, onReconnect: () => void): Promise<void>;
  stop(): Promise<void>;
}
