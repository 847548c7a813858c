import type { DataSource } from 'typeorm';
import type { AppendCondition, StreamWrite } from '@chronicle/core';
import { postgresDialect } from '../dialects/postgres.dialect.js';
import { resolveChronicleTables } from '../table-options.js';
import { decisionLockKeys, decisionLockNamespace } from './postgres-decision-locks.js';

// The upgrade promise of the decision-lock keys: with a `schema` option, a build that hashes the
// events table as the database resolves it takes the keys earlier builds took (they hashed the
// configured, quoted name), so instances of both can run side by side on one table.

const condition: AppendCondition = { failIfEventsMatch: [{ types: ['account.opened'], tags: ['owner:ann'] }], after: null };
const writes: StreamWrite[] = [
  {
    streamId: 's-1',
    aggregateType: 'a',
    expectedVersion: 0,
    events: [{ eventId: 'e-1', type: 'account.opened', schemaVersion: 1, payload: {}, metadata: {}, tags: ['owner:ann'], occurredAt: new Date(0) }],
  },
];

/**
 * The keys of `condition` and `writes` on `"s"."chronicle_events"` as the build before the keys
 * hashed the resolved table computed them (`hashKey` and `decisionLockKeys` of commit f56077f,
 * libs/typeorm/src/journal/postgres-decision-locks.ts, run on the configured `tables.events`).
 */
const EARLIER_BUILDS_KEYS = new Map<bigint, boolean>([
  [-9209303216611786485n, true],
  [-3558960243497539179n, false],
  [1906324718122966254n, false],
  [5817199321958838849n, false],
]);

/** A DataSource whose only query, the namespace lookup, finds `relname` in `nspname`. */
function resolving(nspname: string, relname: string): DataSource {
  return { query: () => Promise.resolve([{ nspname, relname }]) } as unknown as DataSource;
}

describe('decision lock keys across an upgrade', () => {
  it('with a schema option, the resolved namespace is the configured events table name earlier builds hashed', async () => {
    const tables = resolveChronicleTables({ schema: 's' }, postgresDialect);
    expect(tables.events).toBe('"s"."chronicle_events"');
    expect(await decisionLockNamespace(resolving('s', 'chronicle_events'), tables.events)).toBe(tables.events);
  });

  it("with a schema option, the keys equal the earlier builds' keys", async () => {
    const tables = resolveChronicleTables({ schema: 's' }, postgresDialect);
    const namespace = await decisionLockNamespace(resolving('s', 'chronicle_events'), tables.events);
    expect(decisionLockKeys(namespace, condition, writes)).toEqual(EARLIER_BUILDS_KEYS);
  });
});
