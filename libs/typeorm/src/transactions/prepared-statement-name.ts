import { createHash } from 'node:crypto';

/** Names already hashed, by prefix and text; cleared when this many texts were seen (none should be). */
const NAMES_KEPT = 1_000;
const names = new Map<string, string>();

/**
 * The name of a PostgreSQL prepared statement: `prefix`, 24 hex digits of the text's SHA-1 (`pg`
 * keeps one statement per name and connection, and refuses a name reused for another text), then,
 * past the first plan generation (see `planGeneration`), `_<generation>`: a name per generation
 * has the statement planned again. Only for statements of constant text: each name stays prepared
 * on its connection. The hash is kept per text: the feed's and the relay's statements, a few
 * kilobytes each, are named on every read and claim.
 */
export function preparedStatementName(prefix: string, sql: string, generation = 0): string {
  const key = prefix + sql;
  let name = names.get(key);
  if (name === undefined) {
    if (names.size >= NAMES_KEPT) names.clear();
    name = `${prefix}${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    names.set(key, name);
  }
  return generation === 0 ? name : `${name}_${generation}`;
}
