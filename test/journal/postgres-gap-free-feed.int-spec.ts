import { afterEach, beforeEach, expect, it } from '@jest/globals';
import pg from 'pg';
import type { AppendResult, RecordedEvent, StreamWrite } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { holdStream } from '../support/held-unit-gate.js';
import { testWrite } from '../support/journal-writes.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const write = (streamId: string, expectedVersion: number, count = 1): StreamWrite => testWrite('gap', streamId, expectedVersion, count);

function idsOf(events: readonly { eventId: string }[]): string[] {
  return events.map((recorded) => recorded.eventId);
}

function eventsOf(result: AppendResult): RecordedEvent[] {
  return result.streams.flatMap((stream) => stream.events);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

await describePostgres('PostgreSQL journal: gap-free global feed (guarantee 5)', () => {
  let database: TestDatabase;
  let journal: TypeOrmJournal;
  let reader: TypeOrmJournal;

  beforeEach(async () => {
    database = await openPostgresSchema();
    journal = new TypeOrmJournal(database.dataSource, database.tables);
    // The reader has its own pool, as a projection runner in another instance would.
    reader = new TypeOrmJournal(await database.openAnother(), database.tables);
  });

  afterEach(async () => {
    await database.close();
  });

  it('holds back a later-committed unit behind an open one with a lower position, then returns both in order', async () => {
    const gate = holdStream(journal, 'slow');
    const slow = journal.append({ writes: [write('slow', 0)] });
    const t1 = await gate.entered;

    // T2 commits while T1 (which took its position first) is still open.
    const fast = await journal.append({ writes: [write('fast', 0)] });
    const fastEvent = eventsOf(fast)[0];
    expect(fastEvent?.streamId).toBe('fast');

    // While T1 is open, no read may hand out T2's event: a cursor past it would skip T1's.
    let cursor: string | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const page = await reader.readAll(cursor, 100);
      expect(page.events).toEqual([]);
      expect(page.next).toBeNull();
      cursor = page.next;
      await delay(20);
    }

    const blocker = await reader.feedBlocker();
    expect(blocker).toMatchObject({ transactionId: t1.xid, pid: t1.pid, state: 'idle in transaction' });
    expect(blocker?.startedAt).toBeInstanceOf(Date);

    gate.open();
    const slowResult = await slow;
    const slowEvent = eventsOf(slowResult)[0];
    expect(slowEvent?.position).toBeLessThan(fastEvent?.position ?? 0);

    // Feed order is commit-safe order: T1 (the lower transaction id) first, then T2.
    const page = await reader.readAll(cursor, 100);
    expect(idsOf(page.events)).toEqual([slowEvent?.eventId, fastEvent?.eventId]);
    expect(page.next).toBe(fast.cursor);
    expect(await reader.readAll(page.next, 100)).toEqual({ events: [], next: page.next });
    expect(await reader.feedBlocker()).toBeUndefined();
  });

  it('a catch-up reading full pages below a remembered bound still sees events committed after it, at its end', async () => {
    await journal.append({ writes: [write('early', 0, 10)] });
    const first = await reader.readAll(null, 5);
    expect(first.events).toHaveLength(5);
    // Committed after the full page above: above the bound it handed on to the next page.
    const late = eventsOf(await journal.append({ writes: [write('late', 0, 3)] }));
    const second = await reader.readAll(first.next, 5);
    expect(idsOf(second.events)).toHaveLength(5);
    const third = await reader.readAll(second.next, 5);
    expect(idsOf(third.events)).toEqual(idsOf(late));
  });

  it('moves past a hole left by a rolled-back unit without waiting on any timer', async () => {
    const failure = new Error('rolled back on purpose');
    const gate = holdStream(journal, 'doomed', { failAfterGate: failure });
    const doomed = journal.append({ writes: [write('doomed', 0)] });
    await gate.entered;
    const survivor = await journal.append({ writes: [write('survivor', 0)] });

    expect(await reader.readAll(null, 100)).toEqual({ events: [], next: null });
    gate.open();
    await expect(doomed).rejects.toBe(failure);

    const page = await reader.readAll(null, 100);
    expect(idsOf(page.events)).toEqual(idsOf(eventsOf(survivor)));
    expect(page.next).toBe(survivor.cursor);
    expect(await reader.feedBlocker()).toBeUndefined();
  });

  it('is not held back by a long transaction that never touches the journal tables', async () => {
    const other = new pg.Client({ connectionString: POSTGRES_URL });
    await other.connect();
    const scratch = `${database.tables.schema ?? 'public'}`;
    try {
      await other.query(`CREATE TABLE "${scratch}".unrelated (id int)`);
      await other.query('BEGIN');
      // A write gives the transaction an id, below the journal append's: the snapshot's xmin.
      await other.query(`INSERT INTO "${scratch}".unrelated VALUES (1)`);
      const appended = await journal.append({ writes: [write('independent', 0, 2)] });

      const page = await reader.readAll(null, 100);
      expect(idsOf(page.events)).toEqual(idsOf(eventsOf(appended)));
      expect(page.next).toBe(appended.cursor);
      expect(await reader.feedBlocker()).toBeUndefined();
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await other.end();
    }
  });

  it(
    'under many concurrent appenders committing out of position order, a cursor-following reader sees every event exactly once',
    async () => {
      const second = new TypeOrmJournal(await database.openAnother(), database.tables);
      for (const appender of [journal, second]) {
        appender.addParticipant({
          // A random pause inside the transaction, after the events took their positions.
          participate: () => delay(Math.floor(Math.random() * 25)),
        });
      }

      const workers = 8;
      const appendsPerWorker = 15;
      const committed: RecordedEvent[] = [];
      let writersDone = false;

      const writers = Array.from({ length: workers }, async (_, worker) => {
        const target = worker % 2 === 0 ? journal : second;
        let ownVersion = 0;
        for (let index = 0; index < appendsPerWorker; index++) {
          await delay(Math.floor(Math.random() * 5));
          // Every third unit also writes a stream shared by all workers: real conflicts, retried.
          const own = write(`worker-${worker}`, ownVersion, 1 + (index % 3));
          ownVersion += own.events.length;
          for (let attempt = 0; ; attempt++) {
            const writes = index % 3 === 0 ? [own, write('shared', await target.streamVersion('shared'))] : [own];
            try {
              const result = await target.append({ writes });
              committed.push(...eventsOf(result));
              break;
            } catch (error) {
              if (!(error instanceof Error) || error.name !== 'ConcurrencyError' || attempt > 50) throw error;
            }
          }
        }
      });

      const seen: RecordedEvent[] = [];
      let cursor: string | null = null;
      const follow = async (): Promise<void> => {
        for (;;) {
          const finished = writersDone;
          const page = await reader.readAll(cursor, 7);
          seen.push(...page.events);
          cursor = page.next;
          if (page.events.length === 0) {
            if (finished) return;
            await delay(3);
          }
        }
      };
      const following = follow();
      await Promise.all(writers);
      writersDone = true;
      await following;

      const seenIds = idsOf(seen);
      expect(new Set(seenIds).size).toBe(seenIds.length);
      expect([...seenIds].sort()).toEqual(idsOf(committed).sort());
      // Per stream the reader saw versions 1..n in order.
      const byStream = new Map<string, number[]>();
      for (const recorded of seen) byStream.set(recorded.streamId, [...(byStream.get(recorded.streamId) ?? []), recorded.version]);
      for (const versions of byStream.values()) {
        expect(versions).toEqual(Array.from({ length: versions.length }, (_, index) => index + 1));
      }
      // The run did commit out of position order (else it proved nothing): some unit committed
      // after a unit with a higher position.
      const positionsInCommitOrder = committed.map((recorded) => recorded.position);
      const inverted = positionsInCommitOrder.some((position, index) => index > 0 && position < Math.max(...positionsInCommitOrder.slice(0, index)));
      expect(inverted).toBe(true);
    },
    120_000,
  );
});
