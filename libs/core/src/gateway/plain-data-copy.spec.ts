import { NOT_PLAIN_DATA, plainDataCopy } from './plain-data-copy.js';

describe('plainDataCopy (what a kept decision state may be)', () => {
  it('copies nested plain data deeply: changing the copy leaves the original as it was', () => {
    const original = {
      count: 2,
      big: 10n,
      names: ['ann', { nick: 'a' }],
      since: new Date(0),
      byId: new Map([['a', { n: 1 }]]),
      ids: new Set(['a', 'b']),
      bare: Object.assign(Object.create(null) as Record<string, unknown>, { x: 1 }),
      none: null,
      unset: undefined,
    };
    const copy = plainDataCopy(original);
    expect(copy).toEqual(original);
    if (copy === NOT_PLAIN_DATA) throw new Error('expected a copy');
    (copy.names[1] as { nick: string }).nick = 'changed';
    copy.byId.get('a')!.n = 2;
    copy.ids.add('c');
    copy.since.setTime(1);
    expect(original.names[1]).toEqual({ nick: 'a' });
    expect(original.byId.get('a')).toEqual({ n: 1 });
    expect([...original.ids]).toEqual(['a', 'b']);
    expect(original.since.getTime()).toBe(0);
    expect(plainDataCopy(7)).toBe(7);
  });

  it('refuses what it cannot copy faithfully: class instances, functions, symbols, object keys, __proto__, getters, hidden properties, holes', () => {
    class Roster {
      names: string[] = [];
    }
    const withTotal = Object.assign([1, 2], { total: 3 });
    const sparse: number[] = [];
    sparse[2] = 1;
    for (const value of [
      new Roster(),
      { nested: [new Roster()] },
      { f: () => 1 },
      Symbol('s'),
      { [Symbol('s')]: 1 },
      new Map([[{}, 1]]),
      new Set([{}]),
      new Uint8Array(2),
      // Would change in a copy: an own __proto__ (JSON.parse makes one), a getter, a hidden
      // property, array holes and extra array properties.
      { ...(JSON.parse('{"__proto__":{"taken":true},"bob":1}') as object) },
      Object.defineProperty({}, 'size', { get: () => 1, enumerable: true }),
      Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false }),
      sparse,
      withTotal,
    ]) {
      expect(plainDataCopy(value)).toBe(NOT_PLAIN_DATA);
    }
  });

  it('keeps shared objects shared, and cycles, as in the original', () => {
    const shared = { n: 1 };
    const copy = plainDataCopy({ a: shared, b: shared, list: [shared] });
    if (copy === NOT_PLAIN_DATA) throw new Error('expected a copy');
    expect(copy.a).toBe(copy.b);
    expect(copy.list[0]).toBe(copy.a);
    expect(copy.a).not.toBe(shared);
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    const cycleCopy = plainDataCopy(cyclic) as Record<string, unknown>;
    expect(cycleCopy.self).toBe(cycleCopy);
    expect(cycleCopy).not.toBe(cyclic);
  });
});
