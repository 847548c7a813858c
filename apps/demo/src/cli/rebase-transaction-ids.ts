import pg from 'pg';
import { DataSource } from 'typeorm';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { demoConfigFromEnv } from '../config/demo-config.js';

/**
 * `npm run journal:rebase-transaction-ids`: repairs the demo's PostgreSQL journal after it was
 * restored into another cluster (pg_dump and restore), which the demo refuses at start-up with
 * `TransactionIdsAheadError`. Same environment as `npm start` (DATABASE_URL, CHRONICLE_SCHEMA).
 * Stop every demo instance first. It opens its own DataSource, not the application: the
 * application's start-up is what refuses the journal.
 */
async function main(): Promise<void> {
  const config = demoConfigFromEnv();
  if (!config.databaseUrl) {
    process.stderr.write('DATABASE_URL is not set: only a PostgreSQL journal carries transaction ids (SQLite needs no rebase).\n');
    process.exit(2);
  }
  // `driver` is passed explicitly, as in the application: TypeORM's own require('pg') fails under ESM.
  const dataSource = await new DataSource({ type: 'postgres', driver: pg, url: config.databaseUrl }).initialize();
  try {
    const journal = new TypeOrmJournal(dataSource, config.schema ? { schema: config.schema } : {});
    const rebase = await journal.rebaseTransactionIds();
    if (rebase.events === 0) {
      process.stdout.write('Nothing to do: no event is ahead of this cluster.\n');
      return;
    }
    process.stdout.write(`Rebased ${rebase.events} events.\n`);
    for (const cursor of rebase.cursors) process.stdout.write(`${cursor.kind} "${cursor.name}": ${cursor.cursor} -> ${cursor.rebased}\n`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Rebase failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
