import { sqliteDialect } from './sqlite.dialect.js';

describe('SQLite timestamps', () => {
  it('decode what they encode, to the millisecond, on the fast path and off it', () => {
    const dates = [
      new Date('2026-12-06T23:49:11.231Z'),
      new Date('1970-01-01T00:00:00.000Z'),
      new Date('2000-02-29T12:34:56.789Z'),
      new Date('9999-12-31T23:59:59.999Z'),
    ];
    // A year below 100, which Date.UTC would read as 19xx: the general parser takes it.
    const early = new Date('0050-06-15T01:02:03.004Z');
    for (const date of [...dates, early]) {
      const stored = sqliteDialect.encodeTimestamp(date) as string;
      expect(sqliteDialect.decodeTimestamp(stored).toISOString()).toBe(date.toISOString());
    }
  });

  it('read other stored forms through the general parser', () => {
    expect(sqliteDialect.decodeTimestamp('2026-12-06 23:49:11').toISOString()).toBe('2026-12-06T23:49:11.000Z');
    expect(sqliteDialect.decodeTimestamp('2026-12-06T23:49:11.5Z').toISOString()).toBe('2026-12-06T23:49:11.500Z');
    expect(sqliteDialect.decodeTimestamp(1_796_600_951_231).getTime()).toBe(1_796_600_951_231);
    expect(Number.isNaN(sqliteDialect.decodeTimestamp('2026-1x-06 23:49:11.231').getTime())).toBe(true);
  });
});
