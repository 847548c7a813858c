import { expect, it } from '@jest/globals';
import { ConfigurationError, InvalidArgumentError, type ChronicleStorage } from '@chronicle/core';
import { ChronicleOperations, OperationsNotFoundError, type OperationsRebuildProgress } from '@chronicle/console';
import { Annotate, OpenNote, notebookChronicle } from './fixtures/notebook.fixture.js';

/** Polls `check` until it holds (or fails after `ms`): the runtime's relay and runners work in the background. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The operations service against one storage: the same scenario on memory, SQLite and PostgreSQL.
 * `open` returns a fresh, migrated storage and how to close it.
 */
export function operationsScenario(open: () => Promise<{ storage: ChronicleStorage; close: () => Promise<void> }>): void {
  it('shows streams, the feed, the outbox, subscriptions, sagas and outcomes, and re-drives and rebuilds', async () => {
    const { storage, close } = await open();
    const { chronicle, feed, count } = notebookChronicle(storage);
    const operations = new ChronicleOperations({ storage: chronicle.storage, chronicle });
    try {
      await chronicle.start();
      const first = await chronicle.execute(new OpenNote('n1', 'hello'), { commandId: 'cmd-open-n1', correlationId: 'corr-1' });
      await chronicle.execute(new OpenNote('n2', '<script>alert(1)</script>'));
      await chronicle.execute(new OpenNote('n3', 'poison'));
      await chronicle.execute(new Annotate('n1', 'more'));

      // The outbox handler fails once per entry: each aggregate's head is dead-lettered, later entries wait behind it.
      await eventually(async () => (await operations.outbox({ handler: 'note-feed' }))[0]?.deadLettered === 3 || undefined, '3 dead letters');
      await eventually(async () => (await operations.subscription('projection:note-count')).parked.count === 1 || undefined, 'the poisoned note parked');
      await eventually(async () => (await operations.sagas({ saga: 'follow-up', status: 'active' })).items.length === 3 || undefined, '3 sagas');

      const overview = await operations.overview();
      expect(overview.runtime).toBe('running');
      expect(overview.headPosition).toBeGreaterThanOrEqual(4);
      expect(overview.throughput.lastHour).toEqual({ count: 4, atLeast: false });
      expect(overview.outbox).toEqual([expect.objectContaining({ handler: 'note-feed', deadLettered: 3, pending: 1, leased: 0 })]);
      const projection = overview.subscriptions.find((subscription) => subscription.name === 'projection:note-count');
      expect(projection).toMatchObject({ kind: 'projection', shortName: 'note-count', parked: { count: 1, atLeast: false }, rebuildable: true });
      expect(projection?.leaseOwner).toBe(chronicle.owner);
      expect(overview.sagas).toEqual([{ saga: 'follow-up', active: { count: 3, atLeast: false }, completed: { count: 0, atLeast: false }, overdueDeadlines: 0 }]);
      await eventually(async () => (await operations.subscription('projection:note-count')).lag.count === 0 || undefined, 'the projection caught up');

      // Streams: by aggregate type and by prefix, a page at a time.
      const byType = await operations.findStreams({ aggregateType: 'note', pageSize: 2 });
      expect(byType.items.map((stream) => stream.streamId)).toHaveLength(2);
      expect(byType.next).toBeDefined();
      const rest = await operations.findStreams({ aggregateType: 'note', pageSize: 2, after: byType.next! });
      expect(rest.items).toHaveLength(1);
      expect(rest.next).toBeUndefined();
      const exact = await operations.findStreams({ prefix: first.streamId });
      expect(exact.items).toEqual([{ streamId: first.streamId, aggregateType: 'note', version: 2, deletedUpTo: 0 }]);
      expect((await operations.findStreams({ prefix: first.streamId.slice(0, -1) })).items).toHaveLength(3);
      expect((await operations.findStreams({ prefix: 'nothing-like-it' })).items).toEqual([]);
      expect((await operations.findStreams({ aggregateType: 'other' })).items).toEqual([]);

      // A stream's events, with their metadata.
      const page1 = await operations.streamEvents(first.streamId, { pageSize: 1 });
      expect(page1.stream.version).toBe(2);
      expect(page1.items).toEqual([expect.objectContaining({ version: 1, type: 'note.opened', payload: { noteId: 'n1', text: 'hello' } })]);
      expect(page1.items[0]!.metadata).toMatchObject({ commandId: 'cmd-open-n1', correlationId: 'corr-1' });
      expect(page1.next).toBe(2);
      const page2 = await operations.streamEvents(first.streamId, { fromVersion: 2, pageSize: 1 });
      expect(page2.items.map((event) => event.type)).toEqual(['note.annotated']);
      expect(page2.next).toBeUndefined();

      // The latest events, newest first, paging backwards.
      const latest = await operations.latestEvents({ pageSize: 3 });
      expect(latest.items.map((event) => event.type)).toEqual(['note.annotated', 'note.opened', 'note.opened']);
      const older = await operations.latestEvents({ pageSize: 3, beforePosition: latest.next! });
      expect(older.items.map((event) => event.payload)).toEqual([{ noteId: 'n1', text: 'hello' }]);
      expect(older.next).toBeUndefined();

      // Dead letters, paged, then re-driven one, then all.
      const dead1 = await operations.deadLetters({ handler: 'note-feed', pageSize: 2 });
      expect(dead1.items).toHaveLength(2);
      expect(dead1.items[0]).toMatchObject({ attempts: 1, lastError: expect.stringContaining('the broker said no') });
      expect(dead1.next).toBe(2);
      const dead2 = await operations.deadLetters({ handler: 'note-feed', page: 2, pageSize: 2 });
      expect(dead2.items).toHaveLength(1);
      expect(dead2.next).toBeUndefined();
      feed.failing = false;
      const target = dead1.items[0]!;
      expect(await operations.redrive('note-feed', [target.id])).toBe(1);
      await eventually(async () => feed.published.some((message) => message.id === target.id) || undefined, 'the re-driven entry published');
      expect((await operations.outbox({ handler: 'note-feed' }))[0]?.deadLettered).toBe(2);
      expect(await operations.redrive('note-feed')).toBe(2);
      await eventually(async () => feed.published.length === 4 || undefined, 'every entry published');

      // Parked events and their re-drive (the poisoned note fails again and is parked again).
      const parked = await operations.parked('projection:note-count');
      expect(parked.items).toEqual([expect.objectContaining({ reason: 'failed', type: 'note.opened', error: expect.stringContaining('cannot count a poisoned note') })]);
      expect(await operations.redriveParked('projection:note-count', parked.items[0]!.streamId)).toBe(1);

      // A rebuild replays the feed into the cleared projection and reports progress.
      const progress: OperationsRebuildProgress[] = [];
      const rebuilt = await operations.rebuild('note-count', (step) => progress.push(step));
      expect(rebuilt).toMatchObject({ projection: 'note-count', read: 4, parked: 1 });
      expect(rebuilt.total).toBeGreaterThanOrEqual(4);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)).toMatchObject({ read: 4 });
      expect(count.clears).toBe(1);
      expect([...count.notes].sort()).toEqual(['n1', 'n2']);

      // Sagas by status, one instance with its deadline.
      const sagas = await operations.sagas({ saga: 'follow-up', status: 'active', pageSize: 2 });
      expect(sagas.items).toHaveLength(2);
      expect((await operations.sagas({ saga: 'follow-up', pageSize: 2, after: sagas.next! })).items).toHaveLength(1);
      const instance = await operations.saga('follow-up', 'n1');
      expect(instance.instance).toMatchObject({ sagaName: 'follow-up', correlationId: 'n1', status: 'active' });
      expect(instance.deadlines).toEqual([expect.objectContaining({ name: 'remind', payload: { noteId: 'n1' } })]);
      expect(await operations.sagaNames()).toEqual(['follow-up']);

      // Command outcomes.
      expect(await operations.commandOutcome('cmd-open-n1')).toMatchObject({
        commandId: 'cmd-open-n1',
        streamId: first.streamId,
        outcome: { kind: 'accepted', fromVersion: 1, toVersion: 1 },
      });
    } finally {
      await chronicle.stop();
      await close();
    }
  });

  it('refuses bad arguments by name and unknown targets as not found, before changing anything', async () => {
    const { storage, close } = await open();
    const operations = new ChronicleOperations({ storage });
    try {
      await storage.migrate();
      for (const pageSize of [0, 201, 1.5, '5' as unknown as number]) {
        await expect(operations.latestEvents({ pageSize })).rejects.toThrow(InvalidArgumentError);
        await expect(operations.findStreams({ pageSize })).rejects.toThrow(/pageSize must be an integer from 1 to 200/);
      }
      await expect(operations.deadLetters({ page: 51 })).rejects.toThrow(/page must be an integer from 1 to 50/);
      await expect(operations.streamEvents('')).rejects.toThrow(/streamId must be a non-empty string/);
      await expect(operations.streamEvents('x'.repeat(1001))).rejects.toThrow(InvalidArgumentError);
      await expect(operations.streamEvents('never-written', { fromVersion: 0 })).rejects.toThrow(/fromVersion/);
      await expect(operations.streamEvents('never-written')).rejects.toThrow(OperationsNotFoundError);
      await expect(operations.commandOutcome('no-such-command')).rejects.toThrow(/No command "no-such-command" was found/);
      await expect(operations.redrive('no-such-handler')).rejects.toThrow(OperationsNotFoundError);
      await expect(operations.redrive('h', [])).rejects.toThrow(/ids must be a list of 1 to 200/);
      await expect(operations.subscription('projection:nope')).rejects.toThrow(OperationsNotFoundError);
      await expect(operations.redriveParked('projection:nope')).rejects.toThrow(OperationsNotFoundError);
      await expect(operations.saga('follow-up', 'nobody')).rejects.toThrow(OperationsNotFoundError);
      await expect(operations.sagas({ saga: 'follow-up', status: 'paused' as 'active' })).rejects.toThrow(/status must be 'active' or 'completed'/);
      // Leased entries show who holds them and until when.
      await storage.outbox.subscribe([{ handler: 'manual', events: '*', startFrom: 'now' }]);
      await storage.journal.append({
        writes: [{ streamId: 'manual-1', aggregateType: 'thing', expectedVersion: 0, events: [1, 2].map((n) => ({ eventId: `e-${n}-${Date.now()}`, type: 'thing.done', schemaVersion: 1, payload: { n }, metadata: {}, tags: [], occurredAt: new Date() })) }],
      });
      const claimed = await storage.outbox.claim('manual', 'relay-x', { limit: 10, leaseMs: 60_000 });
      expect(claimed).toHaveLength(2);
      const leased = await operations.leased({ handler: 'manual', pageSize: 1 });
      expect(leased.items).toEqual([expect.objectContaining({ leaseOwner: 'relay-x', leaseUntil: claimed[0]!.leaseUntil, streamId: 'manual-1', version: 1 })]);
      expect(leased.next).toBe(2);
      expect((await operations.leased({ handler: 'manual', page: 2, pageSize: 1 })).items.map((entry) => entry.version)).toEqual([2]);
      expect((await operations.outboxHandler('manual')).leased.items).toHaveLength(2);
      await expect(operations.outboxHandler('never-registered')).rejects.toThrow(OperationsNotFoundError);
      // No runtime, no projection code: a rebuild cannot run and says why.
      await expect(operations.rebuild('note-count')).rejects.toThrow(ConfigurationError);
      expect(() => new ChronicleOperations({} as never)).toThrow(ConfigurationError);
    } finally {
      await close();
    }
  });
}
