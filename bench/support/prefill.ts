import { randomUUID } from 'node:crypto';
import type { EventSerializer, Journal, NewEvent } from '@chronicle/core';
import { Posted } from '../domain/bench-ledger.aggregate.js';

/**
 * Appends `count` Posted events to existing streams through the public Journal port, many events
 * per unit of work, so scenarios can set up large histories or backlogs in seconds instead of
 * replaying them command by command. Outbox entries are written for them like for any append
 * (the outbox store is a participant of every unit of work). Returns each stream's new version.
 */
export async function appendPosted(
  journal: Journal,
  serializer: EventSerializer,
  streams: ReadonlyArray<{ streamId: string; aggregateId: string; version: number }>,
  perStream: number,
  eventsPerAppend = 1_000,
): Promise<Map<string, number>> {
  const versions = new Map(streams.map((s) => [s.streamId, s.version]));
  const remaining = new Map(streams.map((s) => [s.streamId, perStream]));
  const byId = new Map(streams.map((s) => [s.streamId, s.aggregateId]));
  const perWrite = Math.max(1, Math.min(perStream, Math.ceil(eventsPerAppend / Math.max(1, streams.length))));
  for (;;) {
    const writes = [];
    let budget = eventsPerAppend;
    for (const [streamId, left] of remaining) {
      if (left === 0 || budget === 0) continue;
      const n = Math.min(left, perWrite, budget);
      const commandId = randomUUID();
      const now = new Date();
      const events: NewEvent[] = Array.from({ length: n }, () =>
        serializer.serialize(new Posted(byId.get(streamId)!, 1), { commandId, correlationId: commandId, causationId: commandId }, now),
      );
      writes.push({ streamId, aggregateType: 'ledger', expectedVersion: versions.get(streamId)!, events });
      versions.set(streamId, versions.get(streamId)! + n);
      remaining.set(streamId, left - n);
      budget -= n;
    }
    if (writes.length === 0) return versions;
    await journal.append({ writes });
  }
}
