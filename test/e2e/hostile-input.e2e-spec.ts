import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostileInputSuite } from './hostile-input.suite.js';

// PostgreSQL runs the same suite in hostile-input-postgres.e2e-spec.ts: TypeORM's entity metadata
// is per process, and the library registers its entities for one dialect per process.
hostileInputSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-fuzz-'));
  return {
    config: { sqlitePath: join(dir, 'bank.sqlite') },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}, 'sqlite');
