import { describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { InMemoryConsoleAuditLog, TypeOrmConsoleAuditLog, type ConsoleAuditLog } from '@chronicle/console';
import { createSchema, describePostgres, POSTGRES_URL, uniqueSchemaName } from '../support/services.js';

function auditSuite(open: () => Promise<{ log: ConsoleAuditLog; close: () => Promise<void>; again?: () => ConsoleAuditLog }>): void {
  it('keeps who did what to which target and when, newest first, paged; preparing again changes nothing', async () => {
    const { log, close, again } = await open();
    try {
      await log.prepare();
      await log.prepare();
      const at = new Date(Date.UTC(2026, 11, 6, 23, 0, 0, 123));
      for (let index = 0; index < 3; index++) {
        await log.record({ at: new Date(at.getTime() + index), actor: `ops-${index}`, action: 'outbox.redrive', target: `h/'; drop table x; --${index}`, outcome: 'ok: 1' });
      }
      const latest = await log.latest(2);
      expect(latest.map((entry) => entry.actor)).toEqual(['ops-2', 'ops-1']);
      expect(latest[0]).toEqual({ at: new Date(at.getTime() + 2), actor: 'ops-2', action: 'outbox.redrive', target: "h/'; drop table x; --2", outcome: 'ok: 1' });
      expect((await log.latest(2, 2)).map((entry) => entry.actor)).toEqual(['ops-0']);
      // Another instance over the same database sees the same trail (it is a table, not memory).
      if (again) expect((await again().latest(10)).length).toBe(3);
    } finally {
      await close();
    }
  });
}

describe('InMemoryConsoleAuditLog', () => {
  auditSuite(async () => ({ log: new InMemoryConsoleAuditLog(), close: async () => undefined }));
});

describe('TypeOrmConsoleAuditLog on SQLite', () => {
  auditSuite(async () => {
    const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await dataSource.initialize();
    return { log: new TypeOrmConsoleAuditLog(dataSource, { tablePrefix: 'ops_' }), again: () => new TypeOrmConsoleAuditLog(dataSource, { tablePrefix: 'ops_' }), close: () => dataSource.destroy() };
  });
});

await describePostgres('TypeOrmConsoleAuditLog on PostgreSQL', () => {
  auditSuite(async () => {
    const schema = uniqueSchemaName('chr_audit');
    const drop = await createSchema(schema);
    const dataSource = new DataSource({ type: 'postgres', url: POSTGRES_URL, poolSize: 2 });
    await dataSource.initialize();
    return {
      log: new TypeOrmConsoleAuditLog(dataSource, { schema }),
      again: () => new TypeOrmConsoleAuditLog(dataSource, { schema }),
      close: async () => {
        await dataSource.destroy();
        await drop();
      },
    };
  });
});
