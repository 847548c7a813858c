import { describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ConfigurationError } from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';

describe('createTypeOrmStorage on SQLite', () => {
  it('builds without touching the database; migrate() is the step that does, once, and again as a no-op', async () => {
    const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    const storage = createTypeOrmStorage(dataSource, { tablePrefix: 'w_' });
    expect(dataSource.isInitialized).toBe(false);
    expect(storage.notifications).toBeNull(); // SQLite: polling only
    expect(storage.channel).toBeUndefined();
    await expect(storage.migrate()).rejects.toThrow(/not initialized: await dataSource.initialize\(\)/);

    await dataSource.initialize();
    try {
      await storage.migrate();
      await storage.migrate();
      const tables = (await dataSource.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'w\\_%' ESCAPE '\\' ORDER BY name")) as Array<{
        name: string;
      }>;
      expect(tables.map((table) => table.name)).toEqual(
        expect.arrayContaining(['w_events', 'w_streams', 'w_outbox', 'w_checkpoints', 'w_saga_states', 'w_migrations']),
      );
      const applied = (await dataSource.query('SELECT count(*) AS n FROM w_migrations')) as Array<{ n: number }>;
      expect(Number(applied[0]!.n)).toBeGreaterThan(0);
    } finally {
      await dataSource.destroy();
    }
  });

  it('refuses what cannot work with a named error, before building anything', () => {
    const sqlite = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    expect(() => createTypeOrmStorage(sqlite, { tablePrefix: 'bad-prefix' })).toThrow(ConfigurationError);
    // A DataSource of a driver Chronicle does not speak (only its options are read).
    const mysql = { options: { type: 'mysql' } } as unknown as DataSource;
    expect(() => createTypeOrmStorage(mysql)).toThrow(/support the "postgres" and "better-sqlite3" drivers, not "mysql"/);
    expect(() => createTypeOrmStorage(undefined as unknown as DataSource)).toThrow(/needs a TypeORM DataSource/);
  });
});
