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
    expect(redactDatabaseUrl('file:c.db')).toBe('file:c.db');
  });

  it('finds the password where pg does: up to the last "@", and in the password, sslpassword and sslkey parameters', () => {
    expect(redactDatabaseUrl('postgres://ops:hunter2@secret-tail@db:5432/app')).toBe('postgres://ops:***@db:5432/app');
    expect(redactDatabaseUrl('postgres://ops@db/app?password=hunter2&sslmode=require')).toBe('postgres://ops@db/app?sslmode=require');
    expect(redactDatabaseUrl('postgres://ops@db/app?sslpassword=hunter2&SSLKEY=%2Fkeys%2Fops.key')).toBe('postgres://ops@db/app');
    // No host (a socket named by ?host=), which pg accepts and WHATWG URL does not.
    expect(redactDatabaseUrl('postgres://ops:hunter2@/app?host=%2Fvar%2Frun%2Fpostgresql')).toBe('postgres://ops:***@/app?host=%2Fvar%2Frun%2Fpostgresql');
  });

  it('shows no more than the scheme of a text that does not parse as scheme://… (its password cannot be told from its host)', () => {
    expect(redactDatabaseUrl('postgres://ops:pa/ss@db/app')).toBe('postgres:<not shown>');
    expect(redactDatabaseUrl('ops:hunter2@db')).toBe('ops:<not shown>');
    expect(redactDatabaseUrl('host=db password=hunter2')).toBe('<database URL not shown>');
  });
});
