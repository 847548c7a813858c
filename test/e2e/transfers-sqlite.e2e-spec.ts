import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transfersSuite } from './transfers.suite.js';

transfersSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-transfers-'));
  return {
    config: { sqlitePath: join(dir, 'bank.sqlite') },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
