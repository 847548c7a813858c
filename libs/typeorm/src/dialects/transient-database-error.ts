/**
 * SQLSTATEs that say "the server is going away, coming back or cannot take you yet": connection
 * exceptions (class 08), admin/crash shutdown and "the database system is starting up" (57P01–57P03),
 * and too many connections (53300), which clears as the old sessions of a restart go.
 */
const TRANSIENT_SQLSTATES = new Set(['08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '53300']);

/** Socket errors of a server that is down, restarting or behind a network blip (a DNS lookup that failed for now included). */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

/** SQLite: another process holds the file past the busy timeout; it will let go. */
const TRANSIENT_SQLITE_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);

/**
 * What node-postgres and its pool say when a connection went away, without a code: a backend
 * killed mid-query, a client that already failed, a pool that could not connect in time.
 */
const TRANSIENT_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)/i,
  /is not queryable/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /server closed the connection unexpectedly/i,
];

/**
 * Whether a database error may go away by itself — the server restarting, failing over or not
 * reachable yet — so that a start-up step is worth retrying. Looks through TypeORM's wrappers
 * (`driverError`), `cause` chains and the `AggregateError` Node raises when every address of a host
 * refused. Anything that carries another SQLSTATE is not transient: bad credentials (28P01, 28000),
 * a missing database (3D000), a migration's own SQL error.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  return classify(error, 0) === 'transient';
}

type Verdict = 'transient' | 'permanent' | 'unknown';

function classify(error: unknown, depth: number): Verdict {
  if (depth > 8 || error === null || typeof error !== 'object') return 'unknown';
  const fields = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  if (code !== undefined) {
    if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SOCKET_CODES.has(code) || TRANSIENT_SQLITE_CODES.has(code)) return 'transient';
    // A SQLSTATE we did not list is the server's considered answer: it will say the same again.
    if (/^[0-9A-Z]{5}$/.test(code) || code.startsWith('SQLITE_')) return 'permanent';
  }
  const nested = [fields.driverError, fields.cause, ...(Array.isArray(fields.errors) ? fields.errors : [])];
  let verdict: Verdict = 'unknown';
  for (const inner of nested) {
    if (inner === error) continue;
    const found = classify(inner, depth + 1);
    if (found === 'permanent') return 'permanent';
    if (found === 'transient') verdict = 'transient';
  }
  if (verdict !== 'unknown') return verdict;
  const message = typeof fields.message === 'string' ? fields.message : '';
  return TRANSIENT_MESSAGES.some((pattern) => pattern.test(message)) ? 'transient' : 'unknown';
}
