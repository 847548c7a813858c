import { escapePostgresString, InlineSqlParameters, postgresLiteral, postgresParameterText, UnsafeSqlLiteralError } from './postgres-inline-parameters.js';

describe('postgresLiteral (values written into the one-round-trip conditional append)', () => {
  it('doubles single quotes, so a quote cannot end the literal', () => {
    expect(postgresLiteral("it's'; DROP TABLE chronicle_events; --")).toBe("'it''s''; DROP TABLE chronicle_events; --'");
  });

  it('writes a string with backslashes in the escape-string syntax, every backslash doubled', () => {
    expect(postgresLiteral("a\\'b\\")).toBe(" E'a\\\\''b\\\\'");
    expect(escapePostgresString('\\')).toBe(" E'\\\\'");
  });

  it('leaves placeholders and dollar quotes as plain characters of the literal', () => {
    expect(postgresLiteral('$1 $$x$$ $tag$')).toBe("'$1 $$x$$ $tag$'");
  });

  it('refuses a string with a NUL character, in a scalar or an array, with a named error', () => {
    expect(() => postgresLiteral('a\0b')).toThrow(UnsafeSqlLiteralError);
    expect(() => postgresLiteral(['ok', 'a\0b'])).toThrow(UnsafeSqlLiteralError);
  });

  it('writes an array as node-postgres writes an array parameter, the whole text one escaped literal', () => {
    expect(postgresLiteral(['a', 'b"c', 'd\\e', "f'g", null, 'h,i}'])).toBe(` E'{"a","b\\\\"c","d\\\\\\\\e","f''g",NULL,"h,i}"}'`);
    expect(postgresLiteral([1, 2])).toBe(`'{"1","2"}'`);
    expect(postgresLiteral([])).toBe(`'{}'`);
  });

  it('casts a date to timestamptz, in UTC', () => {
    expect(postgresLiteral(new Date('2026-12-07T01:02:03.004Z'))).toBe("'2026-12-07T01:02:03.004Z'::timestamptz");
  });

  it('writes safe integers as numeric constants, negative ones in parentheses, and booleans and null as keywords', () => {
    expect(postgresLiteral(42)).toBe('42');
    expect(postgresLiteral(-1)).toBe('(-1)');
    expect(postgresLiteral(2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(postgresLiteral(true)).toBe('true');
    expect(postgresLiteral(null)).toBe('NULL');
    expect(postgresLiteral(undefined)).toBe('NULL');
  });

  it('refuses what it cannot write faithfully: fractions, NaN, invalid dates, objects, nested arrays', () => {
    for (const value of [1.5, Number.NaN, Number.POSITIVE_INFINITY, new Date(Number.NaN), { a: 1 }, [[1]], Symbol('s')]) {
      expect(() => postgresLiteral(value)).toThrow(UnsafeSqlLiteralError);
    }
  });

  it('hands out literals instead of placeholders and binds nothing', () => {
    const params = new InlineSqlParameters();
    expect(params.add("o'k")).toBe("'o''k'");
    expect(params.values).toEqual([]);
  });
});

describe('postgresParameterText (values bound by hand in the pipelined conditional append)', () => {
  it('sends text as node-postgres would: arrays as array text, nulls as NULL, strings unchanged (a NUL included: PostgreSQL refuses it)', () => {
    expect(postgresParameterText(['a', 'b"c', 'd\\e', "f'g", null, undefined, 'h,i}', 'NULL'])).toBe('{"a","b\\"c","d\\\\e","f\'g",NULL,NULL,"h,i}","NULL"}');
    expect(postgresParameterText([])).toBe('{}');
    expect(postgresParameterText(null)).toBeNull();
    expect(postgresParameterText(undefined)).toBeNull();
    expect(postgresParameterText("it's $1")).toBe("it's $1");
    expect(postgresParameterText('a\0b')).toBe('a\0b');
    expect(postgresParameterText(42)).toBe('42');
    expect(postgresParameterText(9007199254740993n)).toBe('9007199254740993');
    expect(postgresParameterText(false)).toBe('false');
    expect(postgresParameterText(new Date('2026-12-07T01:02:03.004Z'))).toBe('2026-12-07T01:02:03.004Z');
  });

  it('refuses what it cannot write, by name, so the caller binds through node-postgres instead', () => {
    expect(() => postgresParameterText(new Date(Number.NaN))).toThrow(UnsafeSqlLiteralError);
    expect(() => postgresParameterText(new Date('+010000-01-01T00:00:00Z'))).toThrow(UnsafeSqlLiteralError);
    expect(() => postgresParameterText(1.5)).toThrow(UnsafeSqlLiteralError);
    expect(() => postgresParameterText({ a: 1 })).toThrow(UnsafeSqlLiteralError);
    expect(() => postgresParameterText([['nested']])).toThrow(UnsafeSqlLiteralError);
  });
});
