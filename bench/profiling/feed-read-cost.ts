import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AggregateCatalog, EventSerializer, type FeedCursor, type NewEvent, type StreamWrite } from '@chronicle/core';
import { DEFAULT_TABLE_PREFIX, TypeOrmJournal, runChronicleMigrations } from '@chronicle/typeorm';
import { BenchLedger, Posted } from '../domain/bench-ledger.aggregate.js';
import { POSTGRES_URL, freshSchema } from '../support/postgres.js';

/*
 * What a PostgreSQL feed page costs the reader, by layer: `node dist/bench/profiling/feed-read-cost.js`.
 * Not a scenario (no target, no result file): the breakdown behind the `feed-catch-up` figures.
 * Fills a fresh schema with EVENTS Posted events (100 per append over 1,000 streams, as that
 * scenario does), then reads them all in pages of PAGE, REPS times each way, alternating: the
 * hand-written keyset SELECT (pg object rows, jsonb parsed by the driver), `Journal.readAll`
 * (RecordedEvents), and `readAll` plus `EventSerializer.deserialize` of each event. Prints the
 * median wall and CPU time per event of each. Options: EVENTS, PAGE, REPS, ONLY=<one way's name>, KEEP=1 (keep the schema, print the statement).
 */

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const PAGE = Number(process.env.PAGE ?? 1_000);
const REPS = Number(process.env.REPS ?? 5);

async function main(): Promise<void> {
  const schema = await freshSchema('profile_feed');
  // The journal hands its feed statements to the DataSource's logger: the last one is kept, to run it bare.
  let lastFeed: { sql: string; values: unknown[] } | undefined;
  const logger = {
    logQuery: (sql: string, values?: unknown[]) => {
      if (sql.includes('ORDER BY e.tx_id, e.position')) lastFeed = { sql, values: values ?? [] };
    },
    logQueryError: () => undefined,
    logQuerySlow: () => undefined,
    logSchemaBuild: () => undefined,
    logMigration: () => undefined,
    log: () => undefined,
  };
  const dataSource = new DataSource({ type: 'postgres', driver: pg, url: POSTGRES_URL, poolSize: 4, logger });
  await dataSource.initialize();
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await runChronicleMigrations(dataSource, { schema: schema.schema });
    const journal = new TypeOrmJournal(dataSource, { schema: schema.schema });
    const serializer = new EventSerializer(new AggregateCatalog([BenchLedger]).events);
    const versions = new Map<string, number>();
    for (let written = 0; written < EVENTS; written += 100) {
      const commandId = randomUUID();
      const metadata = { commandId, correlationId: commandId, causationId: commandId };
      const now = new Date();
      const writes: StreamWrite[] = [];
      for (let k = 0; k < 100; k++) {
        const id = `feed-${String((written + k) % 1000).padStart(6, '0')}`;
        const expectedVersion = versions.get(id) ?? 0;
        versions.set(id, expectedVersion + 1);
        const event: NewEvent = serializer.serialize(new Posted(id, 1 + (k % 9)), metadata, now);
        writes.push({ streamId: id, aggregateType: 'ledger', expectedVersion, events: [event] });
      }
      await journal.append({ writes });
    }
    await client.query(`VACUUM ANALYZE "${schema.schema}"."${DEFAULT_TABLE_PREFIX}events"`);
    const select = `SELECT position, stream_id, version, type, payload, metadata FROM "${schema.schema}"."${DEFAULT_TABLE_PREFIX}events" WHERE position > $1 ORDER BY position LIMIT $2`;
    const ways: Record<string, () => Promise<number>> = {
      'hand-written SELECT': async () => {
        let position = 0;
        let n = 0;
        for (;;) {
          const { rows } = await client.query<{ position: string; payload: { amount: number } }>(select, [position, PAGE]);
          if (rows.length === 0) return n;
          for (const row of rows) if (typeof row.payload.amount !== 'number') throw new Error('bad row');
          n += rows.length;
          position = Number(rows[rows.length - 1]!.position);
        }
      },
      'Journal.readAll': async () => {
        let after: FeedCursor | null = null;
        let n = 0;
        for (;;) {
          const page = await journal.readAll(after, PAGE);
          if (page.events.length === 0) return n;
          n += page.events.length;
          after = page.next;
        }
      },
      "readAll's statement bare": async () => {
        // The statement of a page below a bound after a cursor, on the hand-written client with rows
        // as arrays, from cursor 0:0: the database's share and pg's, without the journal's decoding.
        const first = await journal.readAll(null, PAGE);
        await journal.readAll(first.next, PAGE);
        const below = lastFeed!;
        if (below.values.length !== 4) throw new Error(`expected the statement below a bound after a cursor, got ${below.sql}`);
        let after = '0:0';
        let n = 0;
        for (;;) {
          const [tx, position] = after.split(':');
          const { rows } = await client.query<unknown[]>({ name: 'bare_feed', text: below.sql, rowMode: 'array', values: [below.values[0], tx, position, PAGE] });
          if (rows.length === 0) return n;
          n += rows.length;
          const last = rows[rows.length - 1]!;
          after = `${String(last[11])}:${String(last[0])}`;
        }
      },
      'readAll + deserialize': async () => {
        let after: FeedCursor | null = null;
        let n = 0;
        for (;;) {
          const page = await journal.readAll(after, PAGE);
          if (page.events.length === 0) return n;
          for (const envelope of page.events) if (!(serializer.deserialize(envelope) instanceof Posted)) throw new Error('bad event');
          n += page.events.length;
          after = page.next;
        }
      },
    };
    const samples = new Map<string, Array<{ wall: number; cpu: number }>>();
    for (let rep = 0; rep < REPS + 1; rep++) {
      for (const [name, way] of Object.entries(ways).filter(([name]) => process.env.ONLY === undefined || name === process.env.ONLY)) {
        const cpu = process.cpuUsage();
        const started = performance.now();
        const n = await way();
        const wall = performance.now() - started;
        const used = process.cpuUsage(cpu);
        if (n !== EVENTS) throw new Error(`${name} read ${n} events, expected ${EVENTS}`);
        // The first repetition warms the caches and the JIT up.
        if (rep > 0) samples.set(name, [...(samples.get(name) ?? []), { wall: (wall * 1000) / n, cpu: (used.user + used.system) / n }]);
      }
    }
    const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    for (const [name, runs] of samples) {
      console.log(`${name.padEnd(24)} wall ${median(runs.map((r) => r.wall)).toFixed(2)} µs/event  Node CPU ${median(runs.map((r) => r.cpu)).toFixed(2)} µs/event`);
    }
  } finally {
    await client.end();
    await dataSource.destroy();
    if (process.env.KEEP) console.log(`kept ${schema.schema}; the statement below a bound: ${lastFeed?.sql ?? ''} ${JSON.stringify(lastFeed?.values)}`);
    else await schema.drop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
