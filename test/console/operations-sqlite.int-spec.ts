import { describe } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { operationsScenario } from './operations.scenario.js';

describe('ChronicleOperations on SQLite', () => {
  operationsScenario(async () => {
    const directory = mkdtempSync(join(tmpdir(), 'chronicle-ops-'));
    const dataSource = new DataSource({ type: 'better-sqlite3', database: join(directory, 'ops.db'), enableWAL: true, timeout: 15_000 });
    await dataSource.initialize();
    return {
      storage: createTypeOrmStorage(dataSource),
      close: async () => {
        await dataSource.destroy();
        rmSync(directory, { recursive: true, force: true });
      },
    };
  });
});
