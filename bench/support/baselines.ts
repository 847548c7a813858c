import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { POSTGRES_URL } from './postgres.js';

/**
 * The hand-written baselines every command figure is divided by: the naive command path a team
 * would write without a library — per command, one transaction that reads the stream's version
 * under a lock, inserts the event and its outbox row, and moves the version. No cache, no batching.
 */
export interface CommandBaseline {
  /** Creates the streams (version 1, one "opened" event and its outbox row each). */
  createStreams(ids: readonly string[]): Promise<void>;
  /** One command: one event and one outbox row, in one transaction. */
  command(streamId: string): Promise<void>;
  close(): Promise<void>;
}

function eventJson(streamId: string, amount: number): { payload: string; metadata: string } {
  const commandId = randomUUID();
  return {
    payload: JSON.stringify({ ledgerId: streamId, amount }),
    metadata: JSON.stringify({ commandId, correlationId: commandId, causationId: commandId }),
  };
}

/**
 * PostgreSQL baseline over a `pg.Pool` the size of the app's pool. Per command, six round trips:
 * BEGIN; SELECT version … FOR UPDATE; INSERT event; INSERT outbox row; UPDATE version; COMMIT.
 */
export class PostgresCommandBaseline implements CommandBaseline {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {}

  static async open(schema: string, poolSize: number): Promise<PostgresCommandBaseline> {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: poolSize });
    const s = `"${schema}"`;
    await pool.query(`CREATE TABLE ${s}.base_streams (id text PRIMARY KEY, version integer NOT NULL)`);
    await pool.query(
      `CREATE TABLE ${s}.base_events (position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, ` +
        `version integer NOT NULL, event_id uuid NOT NULL UNIQUE, type text NOT NULL, payload jsonb NOT NULL, metadata jsonb NOT NULL, ` +
        `occurred_at timestamptz NOT NULL, UNIQUE (stream_id, version))`,
    );
    await pool.query(
      `CREATE TABLE ${s}.base_outbox (id uuid PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL, event_id uuid NOT NULL, ` +
        `event_type text NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL, published_at timestamptz)`,
    );
    await pool.query(`CREATE INDEX ON ${s}.base_outbox (stream_id, version) WHERE published_at IS NULL`);
    return new PostgresCommandBaseline(pool, s);
  }

  async createStreams(ids: readonly string[]): Promise<void> {
    const s = this.schema;
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${s}.base_streams (id, version) SELECT unnest($1::text[]), 1`, [chunk]);
        await client.query(
          `INSERT INTO ${s}.base_events (stream_id, version, event_id, type, payload, metadata, occurred_at) ` +
            `SELECT id, 1, gen_random_uuid(), 'ledger.opened', jsonb_build_object('ledgerId', id), '{}'::jsonb, now() FROM unnest($1::text[]) AS id`,
          [chunk],
        );
        await client.query(
          `INSERT INTO ${s}.base_outbox (id, stream_id, version, event_id, event_type, payload, created_at) ` +
            `SELECT gen_random_uuid(), id, 1, gen_random_uuid(), 'ledger.opened', jsonb_build_object('ledgerId', id), now() FROM unnest($1::text[]) AS id`,
          [chunk],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
  }

  async command(streamId: string): Promise<void> {
    const s = this.schema;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.base_streams WHERE id = $1 FOR UPDATE`, [streamId]);
        const current = rows[0];
        if (!current) throw new Error(`baseline stream ${streamId} does not exist`);
        const version = current.version + 1;
        const eventId = randomUUID();
        const now = new Date();
        const { payload, metadata } = eventJson(streamId, 1);
        await client.query(
          `INSERT INTO ${s}.base_events (stream_id, version, event_id, type, payload, metadata, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [streamId, version, eventId, 'ledger.posted', payload, metadata, now],
        );
        await client.query(
          `INSERT INTO ${s}.base_outbox (id, stream_id, version, event_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [randomUUID(), streamId, version, eventId, 'ledger.posted', payload, now],
        );
        await client.query(`UPDATE ${s}.base_streams SET version = $2 WHERE id = $1`, [streamId, version]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * SQLite baseline on its own better-sqlite3 file (WAL, the same `synchronous` as the app's
 * connection), prepared statements, one `BEGIN IMMEDIATE` transaction per command doing the same
 * four statements. better-sqlite3 is synchronous, so concurrent callers simply take turns.
 */
export class SqliteCommandBaseline implements CommandBaseline {
  private readonly db: Database.Database;
  private readonly commandTx: (streamId: string) => void;

  constructor(file: string, synchronous: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.exec(
      `CREATE TABLE base_streams (id TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
       CREATE TABLE base_events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
         event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, payload TEXT NOT NULL, metadata TEXT NOT NULL, occurred_at TEXT NOT NULL,
         UNIQUE (stream_id, version));
       CREATE TABLE base_outbox (id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, version INTEGER NOT NULL, event_id TEXT NOT NULL,
         event_type TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL, published_at TEXT) WITHOUT ROWID;
       CREATE INDEX base_outbox_pending ON base_outbox (stream_id, version) WHERE published_at IS NULL;`,
    );
    const select = this.db.prepare<[string], { version: number }>('SELECT version FROM base_streams WHERE id = ?');
    const insertEvent = this.db.prepare(
      'INSERT INTO base_events (stream_id, version, event_id, type, payload, metadata, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const insertOutbox = this.db.prepare(
      'INSERT INTO base_outbox (id, stream_id, version, event_id, event_type, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const update = this.db.prepare('UPDATE base_streams SET version = ? WHERE id = ?');
    this.commandTx = this.db
      .transaction((streamId: string) => {
        const current = select.get(streamId);
        if (!current) throw new Error(`baseline stream ${streamId} does not exist`);
        const version = current.version + 1;
        const eventId = randomUUID();
        const now = new Date().toISOString();
        const { payload, metadata } = eventJson(streamId, 1);
        insertEvent.run(streamId, version, eventId, 'ledger.posted', payload, metadata, now);
        insertOutbox.run(randomUUID(), streamId, version, eventId, 'ledger.posted', payload, now);
        update.run(version, streamId);
      })
      .immediate as (streamId: string) => void;
  }

  async createStreams(ids: readonly string[]): Promise<void> {
    const insertStream = this.db.prepare('INSERT INTO base_streams (id, version) VALUES (?, 1)');
    const insertEvent = this.db.prepare(
      "INSERT INTO base_events (stream_id, version, event_id, type, payload, metadata, occurred_at) VALUES (?, 1, ?, 'ledger.opened', ?, '{}', ?)",
    );
    this.db.transaction(() => {
      for (const id of ids) {
        insertStream.run(id);
        insertEvent.run(id, randomUUID(), JSON.stringify({ ledgerId: id }), new Date().toISOString());
      }
    })();
  }

  async command(streamId: string): Promise<void> {
    this.commandTx(streamId);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
