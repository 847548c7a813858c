import { validate, version } from 'uuid';
import { timeOrderedId } from './time-ordered-id.js';

describe('timeOrderedId', () => {
  it('makes valid, distinct UUIDv7s across several refills of its random pool', () => {
    const ids = Array.from({ length: 2_000 }, () => timeOrderedId());
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // The random part differs between ids (no slice of the pool handed out twice).
    expect(new Set(ids.map((id) => id.slice(-12))).size).toBe(ids.length);
  });

  it('sorts ids in the order they were made, within one millisecond too', () => {
    const ids = Array.from({ length: 5_000 }, () => timeOrderedId());
    expect([...ids].sort()).toEqual(ids);
  });

  it('orders ids of later milliseconds after earlier ones', async () => {
    const first = timeOrderedId();
    await new Promise((resolve) => setTimeout(resolve, 3));
    const second = timeOrderedId();
    expect(first < second).toBe(true);
    expect(Number.parseInt(first.replace(/-/g, '').slice(0, 12), 16)).toBeLessThan(Number.parseInt(second.replace(/-/g, '').slice(0, 12), 16));
  });
});
