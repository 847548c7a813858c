import { describe, expect, it } from '@jest/globals';
import { eventQueryContract, journalContract } from '@chronicle/testing/contracts';
import type { NewEvent } from '../events/recorded-event.js';
import type { StreamWrite } from '../ports/journal.port.js';
import { InMemoryJournal } from './in-memory-journal.js';

journalContract('in-memory', async () => ({ journal: new InMemoryJournal(), close: async () => undefined }));
eventQueryContract('in-memory', async () => ({ journal: new InMemoryJournal(), close: async () => undefined }));

function event(eventId: string): NewEvent {
  return { eventId, type: 'thing.happened', schemaVersion: 1, payload: {}, metadata: {}, tags: [], occurredAt: new Date(0) };
}

function write(streamId: string, expectedVersion: number, ...eventIds: string[]): StreamWrite {
  return { streamId, aggregateType: 'thing', expectedVersion, events: eventIds.map(event) };
}

describe('InMemoryJournal', () => {
  it('runs onCommit callbacks after the journal applied the unit, in registration order', async () => {
    const journal = new InMemoryJournal();
    const order: string[] = [];
    // An async method's body runs synchronously up to its first await, so this captures the
    // version at the moment the callback runs.
    const versionsSeen: Promise<number>[] = [];
    journal.addParticipant({
      participate: async (tx) => {
        tx.onCommit(() => {
          order.push('first');
          versionsSeen.push(journal.streamVersion('s'));
        });
      },
    });
    journal.addParticipant({ participate: async (tx) => tx.onCommit(() => order.push('second')) });
    await journal.append({ writes: [write('s', 0, 'e1')] });
    expect(order).toEqual(['first', 'second']);
    expect(await Promise.all(versionsSeen)).toEqual([1]);
  });

  it('drops onCommit callbacks when a later participant rolls the unit back', async () => {
    const journal = new InMemoryJournal();
    const applied: string[] = [];
    journal.addParticipant({ participate: async (tx) => tx.onCommit(() => applied.push('outbox row')) });
    journal.addParticipant({
      participate: async () => {
        throw new Error('refused');
      },
    });
    await expect(journal.append({ writes: [write('s', 0, 'e1')] })).rejects.toThrow('refused');
    expect(applied).toEqual([]);
    expect(await journal.streamVersion('s')).toBe(0);
  });

  it('refuses onCommit registrations after the unit ended', async () => {
    const journal = new InMemoryJournal();
    let late: ((apply: () => void) => void) | undefined;
    journal.addParticipant({
      participate: async (tx) => {
        late = (apply) => tx.onCommit(apply);
      },
    });
    await journal.append({ writes: [write('s', 0, 'e1')] });
    expect(() => late?.(() => undefined)).toThrow('has ended');
  });

  it('uses the position as a decimal string for its feed cursor', async () => {
    const journal = new InMemoryJournal();
    const result = await journal.append({ writes: [write('s', 0, 'e1', 'e2')] });
    expect(result.cursor).toBe('2');
    expect((await journal.readAll('1', 10)).events.map((recorded) => recorded.eventId)).toEqual(['e2']);
    await expect(journal.readAll('not-a-position', 10)).rejects.toThrow('not-a-position');
  });

  it('refuses a write without events, naming the stream, and changes nothing', async () => {
    const journal = new InMemoryJournal();
    await expect(journal.append({ writes: [write('ok', 0, 'e1'), write('empty', 0)] })).rejects.toThrow(
      'stream "empty" has no events',
    );
    expect(await journal.streamVersion('ok')).toBe(0);
  });

  it('lets a unit write one stream twice when the second write expects the first one’s result', async () => {
    const journal = new InMemoryJournal();
    const result = await journal.append({ writes: [write('s', 0, 'e1'), write('s', 1, 'e2')] });
    expect(result.streams.map((stream) => [stream.fromVersion, stream.toVersion])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    await expect(journal.append({ writes: [write('t', 0, 'e3'), write('t', 0, 'e4')] })).rejects.toMatchObject({
      name: 'ConcurrencyError',
      streamId: 't',
      expectedVersion: 0,
      actualVersion: 1,
    });
    expect(await journal.streamVersion('t')).toBe(0);
  });

  it('never lowers deletedUpTo and stops it at the stream version', async () => {
    const journal = new InMemoryJournal();
    await journal.append({ writes: [write('s', 0, 'e1', 'e2', 'e3')] });
    await journal.deleteStream('s', 2);
    await journal.deleteStream('s', 1);
    expect((await journal.streamInfo('s'))?.deletedUpTo).toBe(2);
    await journal.deleteStream('s', 10);
    expect((await journal.streamInfo('s'))?.deletedUpTo).toBe(3);
    await journal.append({ writes: [write('s', 3, 'e4')] });
    expect((await journal.readStream('s')).map((recorded) => recorded.version)).toEqual([4]);
  });
});
