import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliUsageError } from './cli-usage.error.js';

/** Which database a `DATABASE_URL` names, before any driver is loaded. */
export type ParsedDatabaseUrl =
  | { kind: 'postgres'; url: string }
  | { kind: 'sqlite'; file: string };

/** Query parameters of a connection URL that hold a secret (`pg` reads `?password=` as the password). */
const SECRET_PARAMETERS = new Set(['password', 'sslpassword', 'sslkey']);

/** Stands in for the empty host of `postgres://user:pw@/db` (a socket), which `pg` accepts and WHATWG URL does not. */
const NO_HOST = 'chronicle-no-host.invalid';

/**
 * The URL for messages, without its secrets: the password is shown as `***` and the `password`,
 * `sslpassword` and `sslkey` query parameters are dropped. The URL is parsed as `pg` parses it
 * (WHATWG URL: the userinfo ends at the last `@`, so a password may hold an unencoded `@`); of a
 * text that does not parse as `scheme://…`, only the scheme is shown.
 */
export function redactDatabaseUrl(url: string): string {
  const text = url.trim();
  // A regular expression cannot tell the password from the host in a text URL parsing refuses
  // (`postgres://u:pa/ss@h/db`), nor in an opaque one (`ops:hunter2@db`), so nothing past the
  // scheme of those is shown. `sqlite:` and `file:` name a file: no secret, shown as given.
  const scheme = /^([a-z][a-z0-9+.-]{0,30}):/i.exec(text)?.[1];
  const hidden = scheme ? `${scheme}:<not shown>` : '<database URL not shown>';
  if (scheme && /^(sqlite|file)$/i.test(scheme)) return text;
  if (!scheme || !text.slice(scheme.length + 1).startsWith('//')) return hidden;
  let parsed: URL;
  let noHost = false;
  try {
    parsed = new URL(text);
  } catch {
    try {
      // pg's own fallback for a URL without a host.
      parsed = new URL(text.replace('@/', `@${NO_HOST}/`));
      noHost = true;
    } catch {
      return hidden;
    }
  }
  const secrets = [...parsed.searchParams.keys()].filter((key) => SECRET_PARAMETERS.has(key.toLowerCase()));
  if (parsed.password === '' && secrets.length === 0) return text;
  if (parsed.password !== '') parsed.password = '***';
  for (const key of secrets) parsed.searchParams.delete(key);
  const shown = parsed.href;
  return noHost ? shown.replace(`@${NO_HOST}/`, '@/') : shown;
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
