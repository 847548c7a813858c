/**
 * The LIKE pattern of the names `preparedStatementName` gives the statements of `prefix` in a plan
 * generation: the prefix, 24 characters of hash, then `_<generation>` past the first.
 */
export function preparedStatementPattern(prefix: string, generation: number): string {
  const name = `${prefix.replaceAll('_', '\\_')}${'_'.repeat(24)}`;
  return generation === 0 ? name : `${name}\\_${generation}`;
}
