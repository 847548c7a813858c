import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, jest } from '@jest/globals';
import { DataSource, type EntityManager } from 'typeorm';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { cliScenario } from './cli.scenario.js';

jest.setTimeout(60_000);

describe('the chronicle CLI on SQLite (sqlite:<file>), the application down', () => {
  cliScenario(async () => {
    const directory = mkdtempSync(join(tmpdir(), 'chronicle-cli-'));
    const file = join(directory, 'chronicle.sqlite');
    const dataSource = new DataSource({ type: 'better-sqlite3', database: file, enableWAL: true, timeout: 15_000 });
    await dataSource.initialize();
    return {
      storage: createTypeOrmStorage(dataSource),
      env: { DATABASE_URL: `sqlite:${file}`, TILL_DATABASE: file },
      query: (sql: string) => (dataSource.manager as EntityManager).query(sql),
      close: async () => {
        await dataSource.destroy();
        rmSync(directory, { recursive: true, force: true });
      },
    };
  });
});
