/**
 * Code-point order, the order SQLite (BINARY) and PostgreSQL (`COLLATE "C"`) sort UTF-8 text in.
 * JavaScript's default sort compares UTF-16 units, which differs only where a surrogate pair
 * meets a character in U+E000..U+FFFF: shifting surrogates above that block fixes it.
 */
export function compareCodePoints(left: string, right: string): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const a = left.charCodeAt(index);
    const b = right.charCodeAt(index);
    if (a !== b) return codePointRank(a) - codePointRank(b);
  }
  return left.length - right.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
