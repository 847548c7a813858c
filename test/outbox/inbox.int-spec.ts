import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { manualClock, type ManualClock } from '@chronicle/testing';
import type { DataSource, EntityManager } from 'typeorm';
import { ChronicleError } from '@chronicle/core';
import { runInTransaction, TypeOrmInbox } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, openSqliteFile, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const START = new Date(Date.UTC(2025, 2, 1, 8, 0, 0, 0));

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The inbox suite over one database kind. The consumer's own writes go to `<ledger>`, a table of
 * the application, through the EntityManager the inbox hands over.
 */
function inboxSuite(name: string, open: () => Promise<TestDatabase>): void {
  describe(name, () => {
    let database: TestDatabase;
    let dataSource: DataSource;
    let clock: ManualClock;
    let inbox: TypeOrmInbox;
    let ledger: string;
    let placeholder: (index: number) => string;

    beforeEach(async () => {
      database = await open();
      dataSource = database.dataSource;
      clock = manualClock(START);
      inbox = new TypeOrmInbox(dataSource, { ...database.tables, clock });
      const postgres = dataSource.options.type === 'postgres';
      ledger = database.tables.schema === undefined ? 'app_ledger' : `"${database.tables.schema}".app_ledger`;
      placeholder = (index) => (postgres ? `$${index}` : '?');
      await dataSource.query(`CREATE TABLE ${ledger} (message_id text NOT NULL, note text NOT NULL)`);
    });

    afterEach(async () => {
      await database.close();
    });

    async function record(manager: EntityManager, messageId: string, note: string): Promise<void> {
      await manager.query(`INSERT INTO ${ledger} (message_id, note) VALUES (${placeholder(1)}, ${placeholder(2)})`, [messageId, note]);
    }

    async function ledgerRows(): Promise<Array<{ message_id: string; note: string }>> {
      return (await dataSource.query(`SELECT message_id, note FROM ${ledger} ORDER BY message_id, note`)) as Array<{
        message_id: string;
        note: string;
      }>;
    }

    it('runs the work once per consumer and message, and skips a second delivery', async () => {
      let runs = 0;
      const work = async (manager: EntityManager): Promise<string> => {
        runs++;
        await record(manager, 'msg-1', `run ${runs}`);
        return `result ${runs}`;
      };
      expect(await inbox.process('billing', 'msg-1', work)).toEqual({ processed: true, result: 'result 1' });
      expect(await inbox.process('billing', 'msg-1', work)).toEqual({ processed: false });
      expect(runs).toBe(1);
      // Another consumer has its own inbox.
      expect(await inbox.process('shipping', 'msg-1', work)).toEqual({ processed: true, result: 'result 2' });
      expect(await ledgerRows()).toEqual([
        { message_id: 'msg-1', note: 'run 1' },
        { message_id: 'msg-1', note: 'run 2' },
      ]);
    });

    it('rolls the mark back with the work when the work throws, so the next delivery runs it', async () => {
      const failure = new Error('downstream refused');
      await expect(
        inbox.process('billing', 'msg-2', async (manager) => {
          await record(manager, 'msg-2', 'half done');
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await ledgerRows()).toEqual([]);
      expect(await inbox.process('billing', 'msg-2', async (manager) => record(manager, 'msg-2', 'retried'))).toEqual({
        processed: true,
        result: undefined,
      });
      expect(await ledgerRows()).toEqual([{ message_id: 'msg-2', note: 'retried' }]);
    });

    it('runs the work once when duplicates are delivered concurrently', async () => {
      let runs = 0;
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          inbox.process('billing', 'msg-3', async (manager) => {
            runs++;
            // Held open, so the other deliveries arrive while it runs.
            await delay(50);
            await record(manager, 'msg-3', `delivery ${index}`);
            return index;
          }),
        ),
      );
      expect(runs).toBe(1);
      expect(outcomes.filter((outcome) => outcome.processed)).toHaveLength(1);
      expect(await ledgerRows()).toHaveLength(1);
    });

    it('lets a concurrent duplicate run the work when the first delivery fails', async () => {
      let runs = 0;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 4 }, () =>
          inbox.process('billing', 'msg-4', async (manager) => {
            runs++;
            const run = runs;
            await delay(30);
            if (run === 1) throw new Error('first delivery failed');
            await record(manager, 'msg-4', `run ${run}`);
            return run;
          }),
        ),
      );
      expect(runs).toBe(2);
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value.processed)).toHaveLength(1);
      expect(await ledgerRows()).toEqual([{ message_id: 'msg-4', note: 'run 2' }]);
    });

    it('marks a message inside a transaction the caller runs', async () => {
      const consume = (note: string): Promise<boolean> =>
        runInTransaction(dataSource, async (manager) => {
          if (!(await inbox.markProcessed(manager, 'billing', 'msg-5'))) return false;
          await record(manager, 'msg-5', note);
          return true;
        });
      expect(await consume('first')).toBe(true);
      expect(await consume('second')).toBe(false);
      await expect(
        runInTransaction(dataSource, async (manager) => {
          await inbox.markProcessed(manager, 'billing', 'msg-6');
          throw new Error('caller rolled back');
        }),
      ).rejects.toThrow('caller rolled back');
      expect(await consume('unrelated')).toBe(false);
      expect(await inbox.process('billing', 'msg-6', async () => 'ran')).toEqual({ processed: true, result: 'ran' });
      expect(await ledgerRows()).toEqual([{ message_id: 'msg-5', note: 'first' }]);

      const error = await inbox.markProcessed(dataSource.manager, 'billing', 'msg-7').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ChronicleError);
      expect((error as Error).message).toContain('open transaction');
    });

    it('prunes only the marks processed before the cutoff', async () => {
      await inbox.process('billing', 'old', async () => undefined);
      clock.advance(1_000);
      await inbox.process('billing', 'new', async () => undefined);
      expect(await inbox.prune(START)).toBe(0);
      expect(await inbox.prune(new Date(START.getTime() + 1))).toBe(1);
      expect(await inbox.prune(new Date(START.getTime() + 1_000))).toBe(0);
      // The pruned mark is gone: a delivery that late would run again; the kept one is still skipped.
      expect(await inbox.process('billing', 'old', async () => 'again')).toEqual({ processed: true, result: 'again' });
      expect(await inbox.process('billing', 'new', async () => 'again')).toEqual({ processed: false });
    });

    it('refuses an empty consumer or message id, naming it, and runs nothing', async () => {
      let runs = 0;
      await expect(inbox.process('', 'msg', async () => runs++)).rejects.toThrow('consumer');
      await expect(inbox.process('billing', '', async () => runs++)).rejects.toThrow('messageId');
      expect(runs).toBe(0);
    });
  });
}

inboxSuite('TypeOrmInbox on a SQLite file', () => openSqliteFile());

await describePostgres('TypeOrmInbox on PostgreSQL', () => {
  inboxSuite('TypeOrmInbox on PostgreSQL, a fresh schema per test', () => openPostgresSchema());
});
