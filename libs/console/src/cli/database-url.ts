import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliUsageError } from './cli-usage.error.js';

/** Which database a `DATABASE_URL` names, before any driver is loaded. */
export type ParsedDatabaseUrl =
  | { kind: 'postgres'; url: string }
  | { kind: 'sqlite'; file: string };

/** The URL with its password replaced by `***`, for messages. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/**
 * Reads a `DATABASE_URL` (or `--database-url`): `postgres://…` / `postgresql://…` for PostgreSQL,
 * `sqlite:<file>` or `file:<file>` (relative to `cwd`, or `file:///absolute/path`) for a SQLite
 * file. Anything else is a {@link CliUsageError} naming the accepted forms.
 */
export function parseDatabaseUrl(url: string, cwd: string): ParsedDatabaseUrl {
  const text = url.trim();
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: 'postgres', url: text };
  const sqlite = /^sqlite:(.+)$/i.exec(text);
  if (sqlite) return { kind: 'sqlite', file: toFile(sqlite[1]!, cwd) };
  if (/^file:\/\//i.test(text)) return { kind: 'sqlite', file: fileURLToPath(text) };
  const file = /^file:(.+)$/i.exec(text);
  if (file) return { kind: 'sqlite', file: toFile(file[1]!, cwd) };
  throw new CliUsageError(
    `DATABASE_URL "${redactDatabaseUrl(text).slice(0, 200)}" is not one the CLI reads: use postgres://user:password@host:5432/db ` +
      'for PostgreSQL, or sqlite:<file> (or file:<file>) for a SQLite file, e.g. sqlite:./data/chronicle.sqlite.',
  );
}

function toFile(path: string, cwd: string): string {
  if (path === ':memory:') {
    throw new CliUsageError('sqlite::memory: names a database no other process can see: point the CLI at the SQLite file the application writes.');
  }
  return isAbsolute(path) ? path : resolve(cwd, path);
}
