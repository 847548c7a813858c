import { parseDatabaseUrl, redactDatabaseUrl } from './database-url.js';
import { CliUsageError } from './cli-usage.error.js';

describe('parseDatabaseUrl (how DATABASE_URL names a database)', () => {
  it('takes postgres:// and postgresql:// URLs as PostgreSQL, unchanged', () => {
    expect(parseDatabaseUrl('postgres://u:p@db:5432/app', '/srv')).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/app' });
    expect(parseDatabaseUrl('postgresql://db/app', '/srv')).toEqual({ kind: 'postgres', url: 'postgresql://db/app' });
  });

  it('takes sqlite:<file> and file:<file> relative to the working directory, and file:/// URLs as absolute', () => {
    expect(parseDatabaseUrl('sqlite:./data/chronicle.sqlite', '/srv/app')).toEqual({ kind: 'sqlite', file: '/srv/app/data/chronicle.sqlite' });
    expect(parseDatabaseUrl('sqlite:/var/lib/c.db', '/srv/app')).toEqual({ kind: 'sqlite', file: '/var/lib/c.db' });
    expect(parseDatabaseUrl('file:c.db', '/srv')).toEqual({ kind: 'sqlite', file: '/srv/c.db' });
    expect(parseDatabaseUrl('file:///var/lib/c.db', '/srv')).toEqual({ kind: 'sqlite', file: '/var/lib/c.db' });
  });

  it('refuses anything else with a usage error that names the accepted forms and hides the password', () => {
    let caught: unknown;
    try {
      parseDatabaseUrl('mysql://root:secret@db/app', '/srv');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliUsageError);
    expect((caught as Error).message).toContain('sqlite:<file>');
    expect((caught as Error).message).toContain('mysql://root:***@db/app');
    expect((caught as Error).message).not.toContain('secret');
    expect(() => parseDatabaseUrl('sqlite::memory:', '/srv')).toThrow(/no other process/);
  });

  it('redacts only the password of a URL', () => {
    expect(redactDatabaseUrl('postgres://me:pw@h/db')).toBe('postgres://me:***@h/db');
    expect(redactDatabaseUrl('postgres://h/db')).toBe('postgres://h/db');
  });
});
