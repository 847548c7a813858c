import { createHash } from 'node:crypto';

/**
 * The name of a PostgreSQL prepared statement: `prefix`, 24 hex digits of the text's SHA-1 (`pg`
 * keeps one statement per name and connection, and refuses a name reused for another text), then,
 * past the first plan generation (see `planGeneration`), `_<generation>`: a name per generation
 * has the statement planned again. Only for statements of constant text: each name stays prepared
 * on its connection.
 */
export function preparedStatementName(prefix: string, sql: string, generation = 0): string {
  const name = `${prefix}${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
  return generation === 0 ? name : `${name}_${generation}`;
}
