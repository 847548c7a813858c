import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type { NewEvent, OutboxEntry, RecordedEvent } from '@chronicle/core';
import { TypeOrmJournal, TypeOrmOutboxStore } from '@chronicle/typeorm';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const HANDLER = 'competing';
const AGGREGATES = 24;
const APPENDS_PER_APPENDER = 120;
const LEASE_MS = 60_000;

function event(index: number): NewEvent {
  return { eventId: randomUUID(), type: 'thing.happened', schemaVersion: 1, payload: { index }, metadata: {}, tags: [], occurredAt: new Date() };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

await describePostgres('Competing outbox claimers on PostgreSQL (three DataSources)', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  it(
    'claim every entry exactly once while leased, and publish each aggregate in version order, while appends continue',
    async () => {
      const dataSources = [database.dataSource, await database.openAnother(), await database.openAnother()];
      const stores = dataSources.map((dataSource) => new TypeOrmOutboxStore(dataSource, database.tables));
      for (const store of stores) await store.subscribe([{ handler: HANDLER, events: '*', startFrom: 'now' }]);
      // Two appenders on two pools, each owning half the aggregates (so no append conflicts).
      const journals = dataSources.slice(0, 2).map((dataSource, index) => {
        const journal = new TypeOrmJournal(dataSource, database.tables);
        journal.addParticipant(stores[index]!);
        return journal;
      });

      const appended: RecordedEvent[] = [];
      let appending = journals.length;
      const appenders = journals.map(async (journal, appender) => {
        const versions = new Map<string, number>();
        try {
          for (let round = 0; round < APPENDS_PER_APPENDER; round++) {
            const aggregate = appender + 2 * Math.floor(Math.random() * (AGGREGATES / 2));
            const streamId = `item-${String(aggregate).padStart(2, '0')}`;
            const expectedVersion = versions.get(streamId) ?? 0;
            const count = 1 + Math.floor(Math.random() * 3);
            const result = await journal.append({
              writes: [{ streamId, aggregateType: 'item', expectedVersion, events: Array.from({ length: count }, (_, index) => event(index)) }],
            });
            versions.set(streamId, expectedVersion + count);
            appended.push(...result.streams.flatMap((stream) => stream.events));
            if (round % 10 === 0) await delay(1);
          }
        } finally {
          appending--;
        }
      });

      const claimedBy = new Map<string, number>();
      const duplicates: string[] = [];
      /** (claimer, entry) in the order markPublished returned. */
      const published: Array<{ claimer: number; entry: OutboxEntry }> = [];
      const claimers = stores.map(async (store, claimer) => {
        const owner = `claimer-${claimer}`;
        for (let idle = 0; idle < 3; ) {
          const entries = await store.claim(HANDLER, owner, { limit: 1 + Math.floor(Math.random() * 8), leaseMs: LEASE_MS });
          if (entries.length === 0) {
            // Done only when the appenders are done and the outbox has been seen empty a few times.
            if (appending === 0) idle++;
            await delay(2);
            continue;
          }
          idle = 0;
          for (const entry of entries) {
            if (claimedBy.has(entry.id)) duplicates.push(`${entry.streamId}@${entry.version} by ${claimedBy.get(entry.id)} and ${claimer}`);
            claimedBy.set(entry.id, claimer);
          }
          // Hold the lease a moment, so other claimers meet leased heads.
          await delay(Math.floor(Math.random() * 3));
          const count = await store.markPublished(HANDLER, owner, entries.map((entry) => entry.id));
          expect(count).toBe(entries.length);
          for (const entry of entries) published.push({ claimer, entry });
        }
      });

      await Promise.all([...appenders, ...claimers]);

      expect(duplicates).toEqual([]);
      expect(published).toHaveLength(appended.length);
      expect(new Set(published.map(({ entry }) => entry.eventId))).toEqual(new Set(appended.map((recorded) => recorded.eventId)));
      const byAggregate = new Map<string, Array<{ claimer: number; version: number }>>();
      for (const { claimer, entry } of published) {
        byAggregate.set(entry.streamId, [...(byAggregate.get(entry.streamId) ?? []), { claimer, version: entry.version }]);
      }
      for (const [streamId, order] of byAggregate) {
        const versions = order.map(({ version }) => version);
        expect({ streamId, versions }).toEqual({ streamId, versions: versions.map((_, index) => index + 1) });
      }
      // The work was shared: SKIP LOCKED sends claimers to different aggregates.
      expect(new Set(published.map(({ claimer }) => claimer)).size).toBeGreaterThanOrEqual(2);
      expect(await stores[0]!.stats(HANDLER)).toEqual([{ handler: HANDLER, pending: 0, leased: 0, deadLettered: 0 }]);
    },
    120_000,
  );
});
