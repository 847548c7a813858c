import type { ConsoleAuditEntry, ConsoleAuditLog } from './console-audit-entry.js';

/** The audit trail in memory: for applications on `createInMemoryStorage()` and for tests. Lost on restart. */
export class InMemoryConsoleAuditLog implements ConsoleAuditLog {
  private readonly entries: ConsoleAuditEntry[] = [];

  /** Nothing to prepare. */
  async prepare(): Promise<void> {}

  /** Appends one entry (a copy). */
  async record(entry: ConsoleAuditEntry): Promise<void> {
    this.entries.push({ ...entry });
  }

  /** The most recent entries first, at most `limit`, skipping `offset`. */
  async latest(limit: number, offset = 0): Promise<ConsoleAuditEntry[]> {
    return [...this.entries].reverse().slice(offset, offset + limit).map((entry) => ({ ...entry }));
  }
}
