/** One action taken in the operations console, as the audit trail keeps it. */
export interface ConsoleAuditEntry {
  /** When the action was taken. */
  at: Date;
  /** Who took it, as the console's `actor` option names the requester. */
  actor: string;
  /** What was done: `outbox.redrive`, `subscription.redrive`, `projection.rebuild`. */
  action: string;
  /** What it was done to: a handler, subscription or projection name, with an entry id or stream id when one was named. */
  target: string;
  /** How it ended: `ok` with a count, `started`, or `failed` with the error's message. */
  outcome: string;
}

/**
 * Where the console records its actions (who, what, when, target, outcome). The console writes a
 * row after every action, successful or not, and shows the latest rows on its audit page.
 */
export interface ConsoleAuditLog {
  /** Creates the table when needed (idempotent). */
  prepare(): Promise<void>;
  /** Appends one entry. */
  record(entry: ConsoleAuditEntry): Promise<void>;
  /** The most recent entries first, at most `limit`, skipping `offset`. */
  latest(limit: number, offset?: number): Promise<ConsoleAuditEntry[]>;
}
