import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import type { AppendResult, NewEvent, StreamWrite } from '@chronicle/core';
import { runInTransaction, runRead, TypeOrmJournal } from '@chronicle/typeorm';
import { sqliteWriteLock } from '../../libs/typeorm/src/transactions/sqlite-write-lock.js';
import { openSqliteFile, openSqliteMemory, type TestDatabase } from '../support/typeorm-test-data-sources.js';

function event(label: string): NewEvent {
  return { eventId: randomUUID(), type: 'lock.tested', schemaVersion: 1, payload: { label }, metadata: {}, tags: [], occurredAt: new Date() };
}

function write(streamId: string, expectedVersion: number, count = 1): StreamWrite {
  return {
    streamId,
    aggregateType: 'lock',
    expectedVersion,
    events: Array.from({ length: count }, (_, index) => event(`${streamId}#${index}`)),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Tracks whether a promise has settled, without awaiting it. */
function watch<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const observed = promise.finally(() => {
    done = true;
  });
  observed.catch(() => undefined);
  return { promise: observed, settled: () => done };
}

function idsOf(result: AppendResult): string[] {
  return result.streams.flatMap((stream) => stream.events.map((recorded) => recorded.eventId));
}

describe('SQLite write lock: library transactions on one better-sqlite3 connection never interleave', () => {
  let database: TestDatabase;
  let journal: TypeOrmJournal;

  beforeEach(async () => {
    database = await openSqliteMemory();
    journal = new TypeOrmJournal(database.dataSource);
  });

  afterEach(async () => {
    await database.close();
  });

  /** Holds the unit of `streamId` open inside its participant until `open()` is called. */
  function holdStream(streamId: string, options: { failAfterGate?: Error } = {}): { entered: Promise<void>; open: () => void } {
    let enter!: () => void;
    const entered = new Promise<void>((resolve) => {
      enter = resolve;
    });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    journal.addParticipant({
      participate: async (_tx, request) => {
        if (request.writes[0]?.streamId !== streamId) return;
        enter();
        await gate;
        if (options.failAfterGate) throw options.failAfterGate;
      },
    });
    return { entered, open };
  }

  it('an append and reads wait while another unit yields mid-transaction; both units commit in order', async () => {
    const gate = holdStream('slow');
    const slow = watch(journal.append({ writes: [write('slow', 0, 2)] }));
    await gate.entered;

    const fast = watch(journal.append({ writes: [write('fast', 0, 1)] }));
    // A read now would otherwise run inside the open transaction and see uncommitted rows.
    const version = watch(journal.streamVersion('slow'));
    const feed = watch(journal.readAll(null, 100));
    await delay(100);
    expect([slow.settled(), fast.settled(), version.settled(), feed.settled()]).toEqual([false, false, false, false]);

    gate.open();
    const [slowResult, fastResult] = await Promise.all([slow.promise, fast.promise]);
    expect(await version.promise).toBe(2);
    const page = await feed.promise;
    expect(page.events.map((recorded) => recorded.eventId)).toEqual([...idsOf(slowResult), ...idsOf(fastResult)]);
    expect(page.events.map((recorded) => recorded.position)).toEqual([1, 2, 3]);
    expect(await journal.readStream('slow')).toEqual(slowResult.streams[0]?.events);
    expect(await journal.readStream('fast')).toEqual(fastResult.streams[0]?.events);
  });

  it('a unit rolled back after yielding leaves nothing, and the append queued behind it commits alone', async () => {
    const failure = new Error('participant failed after yielding');
    const gate = holdStream('doomed', { failAfterGate: failure });
    const doomed = watch(journal.append({ writes: [write('doomed', 0, 3), write('doomed-2', 0, 1)] }));
    await gate.entered;
    const survivor = watch(journal.append({ writes: [write('survivor', 0, 2)] }));
    await delay(50);
    expect(survivor.settled()).toBe(false);
    gate.open();

    await expect(doomed.promise).rejects.toBe(failure);
    const survived = await survivor.promise;
    expect(await journal.streamInfo('doomed')).toBeUndefined();
    expect(await journal.streamInfo('doomed-2')).toBeUndefined();
    expect(await journal.readStream('survivor')).toEqual(survived.streams[0]?.events);
    const page = await journal.readAll(null, 100);
    expect(page.events.map((recorded) => recorded.eventId)).toEqual(idsOf(survived));
  });

  it('runInTransaction and runRead run one at a time, in call order, even when each awaits between statements', async () => {
    const { dataSource } = database;
    await dataSource.query('CREATE TABLE scratch (owner TEXT, step INTEGER)');
    const log: string[] = [];
    const unit = (owner: string, fail = false) => async (manager: EntityManager) => {
      for (let step = 1; step <= 3; step++) {
        log.push(`${owner}:${step}`);
        await manager.query('INSERT INTO scratch (owner, step) VALUES (?, ?)', [owner, step]);
        await delay(5);
      }
      if (fail) throw new Error(`${owner} failed`);
      return owner;
    };
    const results = await Promise.allSettled([
      runInTransaction(dataSource, unit('a')),
      runInTransaction(dataSource, unit('b', true)),
      runRead(dataSource, async (manager) => {
        log.push('read');
        return (await manager.query('SELECT owner, step FROM scratch ORDER BY rowid')) as unknown[];
      }),
      runInTransaction(dataSource, unit('c')),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(log).toEqual(['a:1', 'a:2', 'a:3', 'b:1', 'b:2', 'b:3', 'read', 'c:1', 'c:2', 'c:3']);
    // The read ran after b rolled back: it saw a's rows only.
    expect((results[2] as PromiseFulfilledResult<unknown>).value).toEqual([
      { owner: 'a', step: 1 },
      { owner: 'a', step: 2 },
      { owner: 'a', step: 3 },
    ]);
    expect(await dataSource.query('SELECT owner, count(*) AS n FROM scratch GROUP BY owner ORDER BY owner')).toEqual([
      { owner: 'a', n: 3 },
      { owner: 'c', n: 3 },
    ]);
  });

  it('one DataSource on a file shares its lock with every other DataSource on that file; in-memory ones do not', async () => {
    const file = await openSqliteFile();
    try {
      const again = await file.openAnother();
      expect(sqliteWriteLock(again)).toBe(sqliteWriteLock(file.dataSource));
      expect(sqliteWriteLock(file.dataSource)).not.toBe(sqliteWriteLock(database.dataSource));
      const otherMemory = await openSqliteMemory();
      try {
        expect(sqliteWriteLock(otherMemory.dataSource)).not.toBe(sqliteWriteLock(database.dataSource));
      } finally {
        await otherMemory.close();
      }
    } finally {
      await file.close();
    }
  });

  it('two DataSources on one file in one process queue instead of blocking each other until SQLITE_BUSY', async () => {
    const file = await openSqliteFile();
    try {
      const first = new TypeOrmJournal(file.dataSource);
      const second = new TypeOrmJournal(await file.openAnother());
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      let enter!: () => void;
      const entered = new Promise<void>((resolve) => {
        enter = resolve;
      });
      first.addParticipant({
        participate: async () => {
          enter();
          await gate;
        },
      });
      const held = watch(first.append({ writes: [write('file-a', 0, 1)] }));
      await entered;
      const queued = watch(second.append({ writes: [write('file-b', 0, 1)] }));
      await delay(100);
      expect([held.settled(), queued.settled()]).toEqual([false, false]);
      open();
      await Promise.all([held.promise, queued.promise]);
      expect(await second.listStreams()).toEqual(['file-a', 'file-b']);
    } finally {
      await file.close();
    }
  });
});
