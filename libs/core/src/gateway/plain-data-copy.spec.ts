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

  it('refuses what it cannot copy faithfully: class instances, functions, symbols, cycles, object keys', () => {
    class Roster {
      names: string[] = [];
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const shared = { n: 1 };
    for (const value of [
      new Roster(),
      { nested: [new Roster()] },
      { f: () => 1 },
      Symbol('s'),
      { [Symbol('s')]: 1 },
      cyclic,
      new Map([[{}, 1]]),
      new Set([{}]),
      new Uint8Array(2),
    ]) {
      expect(plainDataCopy(value)).toBe(NOT_PLAIN_DATA);
    }
    // An object met twice but not inside itself is not a cycle.
    expect(plainDataCopy({ a: shared, b: shared })).toEqual({ a: { n: 1 }, b: { n: 1 } });
  });
});
