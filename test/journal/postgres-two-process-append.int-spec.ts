import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import pg from 'pg';
import { ConcurrencyError, type NewEvent, type StreamWrite } from '@chronicle/core';
import { DEFAULT_TABLE_PREFIX, TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/raw-append.mjs', import.meta.url));

interface RawOutcome {
  step: 'done';
  outcome: 'won' | 'conflict' | 'error';
  eventIds?: string[];
  code?: string;
  message?: string;
}

/** The other OS process: a plain `pg` client running the journal's append SQL. */
class RawAppender {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly steps = new Map<string, Promise<Record<string, unknown>>>();
  private readonly resolvers = new Map<string, (message: Record<string, unknown>) => void>();
  private stderr = '';

  constructor(schema: string, streamId: string, expectedVersion: number, count: number, flags: string[] = []) {
    for (const step of ['ready', 'holding', 'streamed', 'done']) {
      this.steps.set(step, new Promise((resolve) => this.resolvers.set(step, resolve)));
    }
    this.child = spawn(
      process.execPath,
      [SCRIPT, POSTGRES_URL, schema, DEFAULT_TABLE_PREFIX, streamId, String(expectedVersion), String(count), flags.join(',')],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      this.resolvers.get(String(message.step))?.(message);
    });
    this.child.on('exit', (code) => {
      this.resolvers.get('done')?.({ step: 'done', outcome: 'error', message: `exited with ${code}: ${this.stderr}` });
    });
  }

  async reached(step: 'ready' | 'holding' | 'streamed'): Promise<void> {
    await this.steps.get(step);
  }

  /** Lets the process go past its current pause (ready or holding). */
  proceed(): void {
    this.child.stdin.write('go\n');
  }

  async done(): Promise<RawOutcome> {
    const outcome = (await this.steps.get('done')) as unknown as RawOutcome;
    this.child.stdin.end();
    return outcome;
  }

  /** Whether the process has reported its outcome, checked without waiting. */
  async isDone(): Promise<boolean> {
    return Promise.race([this.steps.get('done')!.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);
  }
}

function event(label: string): NewEvent {
  return { eventId: randomUUID(), type: 'race.tested', schemaVersion: 1, payload: { label }, metadata: {}, tags: [], occurredAt: new Date() };
}

function write(streamId: string, expectedVersion: number, count: number): StreamWrite {
  return {
    streamId,
    aggregateType: 'race',
    expectedVersion,
    events: Array.from({ length: count }, (_, index) => event(`journal#${expectedVersion + index + 1}`)),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

await describePostgres('PostgreSQL journal: two OS processes append to one stream (guarantee 2)', () => {
  let database: TestDatabase;
  let journal: TypeOrmJournal;
  let client: pg.Client;
  let schema: string;

  beforeEach(async () => {
    database = await openPostgresSchema();
    schema = database.tables.schema ?? '';
    journal = new TypeOrmJournal(database.dataSource, database.tables);
    client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
  });

  afterEach(async () => {
    await client.end();
    await database.close();
  });

  /** The stored versions of a stream, straight from the table, and whether any repeats. */
  async function storedVersions(streamId: string): Promise<{ versions: number[]; rows: number; distinct: number }> {
    const events = `"${schema}"."${DEFAULT_TABLE_PREFIX}events"`;
    const result = await client.query<{ version: number }>(`SELECT version FROM ${events} WHERE stream_id = $1 ORDER BY version`, [streamId]);
    const counts = await client.query<{ rows: string; distinct: string }>(
      `SELECT count(*) AS rows, count(DISTINCT version) AS distinct FROM ${events} WHERE stream_id = $1`,
      [streamId],
    );
    return {
      versions: result.rows.map((row) => row.version),
      rows: Number(counts.rows[0]?.rows),
      distinct: Number(counts.rows[0]?.distinct),
    };
  }

  function oneTo(n: number): number[] {
    return Array.from({ length: n }, (_, index) => index + 1);
  }

  it('the journal waits for the other process holding the stream row, then fails with the version it wrote', async () => {
    await journal.append({ writes: [write('held-by-other', 0, 2)] });
    const other = new RawAppender(schema, 'held-by-other', 2, 3, ['hold']);
    await other.reached('holding');

    let settled = false;
    const appending = journal.append({ writes: [write('held-by-other', 2, 1)] }).finally(() => {
      settled = true;
    });
    await delay(150);
    expect(settled).toBe(false);

    other.proceed();
    expect(await other.done()).toMatchObject({ outcome: 'won' });
    const error = await appending.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ streamId: 'held-by-other', expectedVersion: 2, actualVersion: 5 });
    expect(await storedVersions('held-by-other')).toEqual({ versions: oneTo(5), rows: 5, distinct: 5 });
    expect(await journal.streamVersion('held-by-other')).toBe(5);
  });

  it('the other process waits for the journal holding the stream row, then loses', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    journal.addParticipant({
      participate: async (_tx, request) => {
        if (request.writes[0]?.streamId !== 'held-by-journal') return;
        entered();
        await gate;
      },
    });

    // Creating the stream: the other process's INSERT … ON CONFLICT waits on the uncommitted row.
    const appending = journal.append({ writes: [write('held-by-journal', 0, 2)] });
    await inside;
    const other = new RawAppender(schema, 'held-by-journal', 0, 4);
    await delay(300);
    expect(await other.isDone()).toBe(false);
    release();
    await appending;
    expect(await other.done()).toMatchObject({ outcome: 'conflict' });
    expect(await storedVersions('held-by-journal')).toEqual({ versions: [1, 2], rows: 2, distinct: 2 });
  });

  it('when several processes and the journal race for one version, exactly one wins and versions stay 1..n', async () => {
    let version = 0;
    for (let round = 0; round < 4; round++) {
      const others = [new RawAppender(schema, 'contested', version, 2, ['ready']), new RawAppender(schema, 'contested', version, 3, ['ready'])];
      await Promise.all(others.map((other) => other.reached('ready')));
      for (const other of others) other.proceed();
      const journalOutcome = journal.append({ writes: [write('contested', version, 1)] }).then(
        (result) => ({ won: true as const, count: result.streams[0]?.events.length ?? 0 }),
        (error: unknown) => ({ won: false as const, error }),
      );
      const [mine, ...theirs] = await Promise.all([journalOutcome, ...others.map((other) => other.done())]);

      const winners = [mine.won, ...theirs.map((outcome) => outcome.outcome === 'won')].filter(Boolean);
      expect(winners).toHaveLength(1);
      for (const outcome of theirs) expect(['won', 'conflict']).toContain(outcome.outcome);
      if (!mine.won) {
        expect(mine.error).toBeInstanceOf(ConcurrencyError);
        expect(mine.error).toMatchObject({ streamId: 'contested', expectedVersion: version });
      }
      const wonBy = mine.won ? 1 : theirs.findIndex((outcome) => outcome.outcome === 'won') + 2;
      version += wonBy;
      expect(await storedVersions('contested')).toEqual({ versions: oneTo(version), rows: version, distinct: version });
      expect(await journal.streamVersion('contested')).toBe(version);
    }
  });

  it('a unit that waits for a stream row the other process holds has written no event the other process needs next', async () => {
    // The other process writes the stream row, then pauses before its events. The journal's unit
    // for the same new stream must wait at the stream row, not first insert an event row the
    // other process would then wait for (a deadlock, which PostgreSQL would break by failing one).
    for (let round = 0; round < 3; round++) {
      const streamId = `paused-${round}`;
      const other = new RawAppender(schema, streamId, 0, 2, ['pause']);
      await other.reached('streamed');
      const mine = journal.append({ writes: [write(streamId, 0, 1)] }).then(
        () => ({ won: true as const }),
        (error: unknown) => ({ won: false as const, error }),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      other.proceed();
      const [ours, theirs] = await Promise.all([mine, other.done()]);
      expect(theirs).toMatchObject({ outcome: 'won' });
      expect(ours.won).toBe(false);
      if (!ours.won) expect(ours.error).toMatchObject({ name: 'ConcurrencyError', streamId, expectedVersion: 0, actualVersion: 2 });
      expect(await storedVersions(streamId)).toEqual({ versions: [1, 2], rows: 2, distinct: 2 });
    }
  });

  it("the feed holds back on the other process's open unit and then returns its events before later ones", async () => {
    const other = new RawAppender(schema, 'from-other', 0, 2, ['hold']);
    await other.reached('holding');
    const mine = await journal.append({ writes: [write('from-journal', 0, 1)] });

    const held = await journal.readAll(null, 100);
    expect(held).toEqual({ events: [], next: null });
    expect(await journal.feedBlocker()).toMatchObject({ state: 'idle in transaction' });

    other.proceed();
    const outcome = await other.done();
    expect(outcome.outcome).toBe('won');
    const page = await journal.readAll(held.next, 100);
    expect(page.events.map((recorded) => recorded.eventId)).toEqual([
      ...(outcome.eventIds ?? []),
      ...mine.streams.flatMap((stream) => stream.events.map((recorded) => recorded.eventId)),
    ]);
    expect(page.next).toBe(mine.cursor);
  });

  it('the database itself refuses a second event at an existing (stream_id, version)', async () => {
    await journal.append({ writes: [write('unique-1', 0, 2)] });
    const events = `"${schema}"."${DEFAULT_TABLE_PREFIX}events"`;
    const error = await client
      .query(
        `INSERT INTO ${events} (stream_id, version, aggregate_type, event_id, type, schema_version, payload, metadata, tags, occurred_at)
         VALUES ('unique-1', 2, 'race', $1, 'race.tested', 1, '{}', '{}', '[]', now())`,
        [randomUUID()],
      )
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).toMatchObject({ code: '23505', constraint: `${DEFAULT_TABLE_PREFIX}events_stream_version_uq` });
    expect(await storedVersions('unique-1')).toEqual({ versions: [1, 2], rows: 2, distinct: 2 });
  });

  it('maps a version taken behind the stream row to ConcurrencyError and writes nothing', async () => {
    await journal.append({ writes: [write('behind-1', 0, 2)] });
    // A writer that skipped the protocol: version 3 exists, the stream row still says 2.
    await client.query(
      `INSERT INTO "${schema}"."${DEFAULT_TABLE_PREFIX}events" (stream_id, version, aggregate_type, event_id, type, schema_version, payload, metadata, tags, occurred_at)
       VALUES ('behind-1', 3, 'race', $1, 'race.tested', 1, '{}', '{}', '[]', now())`,
      [randomUUID()],
    );
    const error = await journal.append({ writes: [write('behind-1', 2, 2)] }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ streamId: 'behind-1', expectedVersion: 2, actualVersion: undefined });
    expect(await journal.streamVersion('behind-1')).toBe(2);
    expect(await storedVersions('behind-1')).toEqual({ versions: [1, 2, 3], rows: 3, distinct: 3 });
  });
});
