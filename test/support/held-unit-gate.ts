import type { EntityManager } from 'typeorm';
import type { TypeOrmJournal } from '@chronicle/typeorm';

/** A latch a participant waits on, so a test decides when the unit of work may commit. */
export interface Gate {
  /** Resolves with the held transaction's id and backend pid once its events are written. */
  entered: Promise<{ xid: string; pid: number }>;
  /** Lets the held unit of work go on to commit (or to fail, with `failAfterGate`). */
  open(): void;
}

/** What a held unit does besides waiting. */
export interface HoldStreamOptions {
  /** Update row 1 of this application table first (after the events, as the README asks). */
  appTable?: string;
  /** Throw this after the gate opens, so the unit rolls back instead of committing. */
  failAfterGate?: Error;
}

/**
 * PostgreSQL: holds every unit whose first write targets `streamId` open after its events were
 * written, as a participant of `journal`, reporting that transaction's id and backend pid.
 */
export function holdStream(journal: TypeOrmJournal, streamId: string, options: HoldStreamOptions = {}): Gate {
  let reportEntered!: (value: { xid: string; pid: number }) => void;
  const entered = new Promise<{ xid: string; pid: number }>((resolve) => {
    reportEntered = resolve;
  });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  journal.addParticipant({
    participate: async (tx: EntityManager, request) => {
      if (request.writes[0]?.streamId !== streamId) return;
      if (options.appTable) await tx.query(`UPDATE ${options.appTable} SET n = n + 1 WHERE id = 1`);
      const [row] = (await tx.query('SELECT pg_current_xact_id()::text AS xid, pg_backend_pid() AS pid')) as Array<{ xid: string; pid: number }>;
      reportEntered({ xid: row?.xid ?? '', pid: row?.pid ?? 0 });
      await gate;
      if (options.failAfterGate) throw options.failAfterGate;
    },
  });
  return { entered, open };
}
