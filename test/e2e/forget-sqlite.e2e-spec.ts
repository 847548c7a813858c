import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgetSuite } from './forget.suite.js';

forgetSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-forget-'));
  return { config: { sqlitePath: join(dir, 'bank.sqlite') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});
