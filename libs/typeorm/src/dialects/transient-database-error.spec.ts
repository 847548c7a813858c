import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { isTransientDatabaseError } from './transient-database-error.js';

/** An error as node-postgres builds it from a server's ErrorResponse. */
function serverError(code: string, message: string): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  return error;
}

function socketError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -1, syscall: 'connect' });
}

describe('isTransientDatabaseError', () => {
  describe('says "transient" for a database that is going away, coming back or not reachable yet', () => {
    it.each([
      ['57P01 admin shutdown (pg_terminate_backend, a fast restart)', serverError('57P01', 'terminating connection due to administrator command')],
      ['57P02 crash shutdown', serverError('57P02', 'terminating connection because of crash of another server process')],
      ['57P03 the database system is starting up', serverError('57P03', 'the database system is starting up')],
      ['57P03 the database system is shutting down', serverError('57P03', 'the database system is shutting down')],
      ['08006 connection failure', serverError('08006', 'connection failure')],
      ['53300 too many connections', serverError('53300', 'sorry, too many clients already')],
    ])('%s', (_, error) => {
      expect(isTransientDatabaseError(error)).toBe(true);
    });

    it.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])('a socket error %s', (code) => {
      expect(isTransientDatabaseError(socketError(code))).toBe(true);
    });

    it('the AggregateError Node raises when every address of a host refused', () => {
      const error = new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], '');
      expect(isTransientDatabaseError(error)).toBe(true);
    });

    it.each([
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'timeout exceeded when trying to connect',
      'Client has encountered a connection error and is not queryable',
      'the database system is starting up',
    ])('node-postgres and pg-pool without a code: "%s"', (message) => {
      expect(isTransientDatabaseError(new Error(message))).toBe(true);
    });

    it('a transient driver error wrapped in TypeORM QueryFailedError', () => {
      const error = new QueryFailedError('SELECT pg_advisory_lock($1, $2)', [1, 2], serverError('57P01', 'terminating connection due to administrator command'));
      expect(isTransientDatabaseError(error)).toBe(true);
    });

    it('a transient error as the cause of another', () => {
      expect(isTransientDatabaseError(new Error('migrating failed', { cause: socketError('ECONNRESET') }))).toBe(true);
    });

    it('SQLite: another process holds the file (SQLITE_BUSY)', () => {
      expect(isTransientDatabaseError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(true);
    });
  });

  describe('says "fail at once" for what retrying cannot fix', () => {
    it.each([
      ['28P01 bad password', serverError('28P01', 'password authentication failed for user "app"')],
      ['28000 no pg_hba.conf entry', serverError('28000', 'no pg_hba.conf entry for host "10.0.0.1"')],
      ['3D000 missing database', serverError('3D000', 'database "nope" does not exist')],
      ['42601 a migration with a syntax error', serverError('42601', 'syntax error at or near "TABEL"')],
      ['42P07 a migration creating a table that exists', serverError('42P07', 'relation "x" already exists')],
      ['42501 no privilege', serverError('42501', 'permission denied for schema public')],
    ])('%s', (_, error) => {
      expect(isTransientDatabaseError(error)).toBe(false);
      expect(isTransientDatabaseError(new QueryFailedError('SQL', [], error))).toBe(false);
    });

    it('a permanent SQLSTATE wins over a transient-sounding message or cause', () => {
      const error = Object.assign(serverError('28P01', 'password authentication failed'), { cause: socketError('ECONNRESET') });
      expect(isTransientDatabaseError(error)).toBe(false);
    });

    it.each([
      ['a plain error', new Error('boom')],
      ['an unknown host', socketError('ENOTFOUND')],
      ['SQLite cannot open the file', Object.assign(new Error('unable to open database file'), { code: 'SQLITE_CANTOPEN' })],
      ['SQLite constraint', Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })],
      ['a string', 'ECONNREFUSED'],
      ['null', null],
      ['undefined', undefined],
    ])('%s', (_, error) => {
      expect(isTransientDatabaseError(error)).toBe(false);
    });

    it('does not loop on a cause cycle', () => {
      const a = new Error('a');
      const b = new Error('b', { cause: a });
      (a as { cause?: unknown }).cause = b;
      expect(isTransientDatabaseError(a)).toBe(false);
    });
  });
});
