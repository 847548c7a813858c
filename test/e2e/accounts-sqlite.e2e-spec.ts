import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountsSuite } from './accounts.suite.js';

accountsSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-demo-'));
  return {
    config: { sqlitePath: join(dir, 'bank.sqlite') },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}, { concurrentDriver: false });
