import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corruptEventsSuite } from './corrupt-events.suite.js';

// PostgreSQL runs the same suite in corrupt-events-postgres.e2e-spec.ts: the library registers
// its TypeORM entities for one dialect per process.
corruptEventsSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-corrupt-'));
  return {
    config: { sqlitePath: join(dir, 'bank.sqlite') },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
