import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import { AppendConditionConflictError } from '../errors/append-condition-conflict.error.js';
import { ConcurrencyError } from '../errors/concurrency.error.js';
import { DuplicateCommandError } from '../errors/duplicate-command.error.js';
import type { AppendRequest, CommandRecord } from '../ports/journal.port.js';
import { resolveCommandGatewayOptions } from './command-gateway-options.js';
import { AUTO_EARLY_FLUSH_SIZE, CommitBatcher } from './commit-batcher.js';

function unit(streamId: string, expectedVersion = 0, commandId?: string): AppendRequest {
  const command: CommandRecord | undefined = commandId
    ? { commandId, fingerprint: 'f', streamId, aggregateType: 't', outcome: { kind: 'accepted', fromVersion: 1, toVersion: 1 }, recordedAt: new Date(0) }
    : undefined;
  return {
    writes: [
      {
        streamId,
        aggregateType: 't',
        expectedVersion,
        events: [{ eventId: `${streamId}-${expectedVersion + 1}-${Math.random()}`, type: 'x', schemaVersion: 1, payload: {}, metadata: {}, tags: [], occurredAt: new Date(0) }],
      },
    ],
    commands: command ? [command] : [],
  };
}

/** A journal that counts the units of work it is asked to write. */
class CountingJournal extends InMemoryJournal {
  /** Stands for a journal whose appends run in a database server (PostgreSQL's says true). */
  appendsOverlap = false;
  calls: number[] = [];
  /** The origin of each unit written, in order. */
  origins: Array<string | undefined> = [];
  failNext: Error | undefined;
  override async append(request: AppendRequest) {
    this.calls.push(request.writes.length);
    this.origins.push(request.origin);
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    return super.append(request);
  }
}

describe('CommitBatcher', () => {
  it('sends a conditional unit to the journal alone, so that two decisions ready at once that conflict never both commit', async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
    const { next } = await journal.readByQuery([{ tags: ['seat:1'] }]);
    const decision = (streamId: string): AppendRequest => {
      const request = unit(streamId);
      request.writes[0]!.events[0]!.tags = ['seat:1'];
      return { ...request, condition: { failIfEventsMatch: [{ tags: ['seat:1'] }], after: next } };
    };
    const outcomes = await Promise.allSettled([batcher.append(decision('a')), batcher.append(decision('b')), batcher.append(unit('c')), batcher.append(unit('d'))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(AppendConditionConflictError);
    // The two conditional units alone, the two plain ones batched together.
    expect(journal.calls).toEqual([1, 1, 2]);
  });

  it('writes the units that are ready together in one transaction, and answers each with its own streams', async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.append(unit(`s${i}`))));
    expect(journal.calls).toEqual([10]);
    results.forEach((result, i) => {
      expect(result.streams.map((s) => [s.streamId, s.fromVersion, s.toVersion])).toEqual([[`s${i}`, 1, 1]]);
      expect(result.cursor).toBeDefined();
    });
  });

  it("gives a batch its units' origin when they share one, and none when they do not (its notification then wakes everyone)", async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
    const tagged = (streamId: string, origin?: string): AppendRequest => ({ ...unit(streamId), ...(origin === undefined ? {} : { origin }) });
    await Promise.all([batcher.append(tagged('a', 'rt-1')), batcher.append(tagged('b', 'rt-1'))]);
    await Promise.all([batcher.append(tagged('c', 'rt-1')), batcher.append(tagged('d', 'rt-2'))]);
    await Promise.all([batcher.append(tagged('e', 'rt-1')), batcher.append(tagged('f'))]);
    await batcher.append(tagged('g', 'rt-3'));
    expect(journal.calls).toEqual([2, 2, 2, 1]);
    expect(journal.origins).toEqual(['rt-1', undefined, undefined, 'rt-3']);
  });

  it('keeps batches within maxBatchSize and gathers later units while a batch is being written', async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal, { maxBatchSize: 4, maxConcurrentBatches: 1 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.append(unit(`s${i}`))));
    expect(journal.calls).toEqual([4, 4, 2]);
  });

  it('writes a lone unit by itself, at once', async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal);
    await batcher.append(unit('solo'));
    expect(journal.calls).toEqual([1]);
  });

  it('fails only the conflicting unit: the others of its batch are written again as one batch, the one its error names alone', async () => {
    const journal = new CountingJournal();
    await journal.append(unit('taken'));
    journal.calls = [];
    const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
    const outcomes = await Promise.allSettled([batcher.append(unit('a')), batcher.append(unit('taken', 0)), batcher.append(unit('b')), batcher.append(unit('c'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'ConcurrencyError', streamId: 'taken', expectedVersion: 0, actualVersion: 1 });
    // The batch, the three others together, the conflicting one alone: not one call per unit.
    expect(journal.calls).toEqual([4, 3, 1]);
    for (const stream of ['a', 'b', 'c']) expect(await journal.streamVersion(stream)).toBe(1);
    expect(await journal.streamVersion('taken')).toBe(1);
  });

  it('writes the units one by one when the batch written again without the named unit fails too', async () => {
    const journal = new CountingJournal();
    await journal.append(unit('taken-1'));
    await journal.append(unit('taken-2'));
    journal.calls = [];
    const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
    const outcomes = await Promise.allSettled([batcher.append(unit('taken-1', 0)), batcher.append(unit('a')), batcher.append(unit('taken-2', 0))]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
    expect(outcomes.map((o) => (o as PromiseRejectedResult).reason?.streamId)).toEqual(['taken-1', undefined, 'taken-2']);
    expect(journal.calls).toEqual([3, 2, 1, 1, 1]);
    expect(await journal.streamVersion('a')).toBe(1);
  });

  it('fails only the unit whose command id is already recorded', async () => {
    const journal = new CountingJournal();
    await journal.append(unit('first', 0, 'cmd-1'));
    const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
    const outcomes = await Promise.allSettled([batcher.append(unit('x', 0, 'cmd-2')), batcher.append(unit('y', 0, 'cmd-1'))]);
    expect(outcomes[0].status).toBe('fulfilled');
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateCommandError);
    expect(await journal.findCommand('cmd-2')).toBeDefined();
  });

  it('fails every unit of a batch that fails for another reason, with that error, and writes nothing', async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
    journal.failNext = new Error('connection reset');
    const outcomes = await Promise.allSettled([batcher.append(unit('a')), batcher.append(unit('b'))]);
    expect(outcomes.map((o) => (o as PromiseRejectedResult).reason?.message)).toEqual(['connection reset', 'connection reset']);
    expect(await journal.streamVersion('a')).toBe(0);
    // The batcher keeps working afterwards.
    await expect(batcher.append(unit('c'))).resolves.toBeDefined();
  });

  it("with earlyFlushSize, starts a batch while the turn still produces units, so the database works while the rest are prepared", async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal, { earlyFlushSize: 3, maxConcurrentBatches: 2 });
    const pending = Array.from({ length: 3 }, (_, i) => batcher.append(unit(`s${i}`)));
    // The third unit started the batch at once, inside this turn.
    expect(journal.calls).toEqual([3]);
    pending.push(...Array.from({ length: 4 }, (_, i) => batcher.append(unit(`t${i}`))));
    // Three more filled the second slot; the seventh waits for the end of the turn and a free slot.
    expect(journal.calls).toEqual([3, 3]);
    const results = await Promise.all(pending);
    expect(journal.calls).toEqual([3, 3, 1]);
    expect(results.map((result) => result.streams[0]!.streamId)).toEqual(['s0', 's1', 's2', 't0', 't1', 't2', 't3']);
  });

  it("with earlyFlushSize 'auto' (the default), writes early only when the journal's appends overlap with this process", async () => {
    const inProcess = new CountingJournal();
    const late = new CommitBatcher(inProcess);
    await Promise.all(Array.from({ length: 70 }, (_, i) => late.append(unit(`b${i}`))));
    // One batch of all 70, written at the end of the turn.
    expect(inProcess.calls).toEqual([70]);

    const server = new CountingJournal();
    server.appendsOverlap = true;
    const early = new CommitBatcher(server);
    await Promise.all(Array.from({ length: 70 }, (_, i) => early.append(unit(`c${i}`))));
    expect(server.calls).toEqual([AUTO_EARLY_FLUSH_SIZE, AUTO_EARLY_FLUSH_SIZE, 70 - 2 * AUTO_EARLY_FLUSH_SIZE]);
  });

  it('refuses an earlyFlushSize that is neither auto nor a non-negative integer', () => {
    for (const earlyFlushSize of [-1, 1.5, Number.NaN]) {
      expect(() => resolveCommandGatewayOptions({ groupCommit: { earlyFlushSize } })).toThrow(/groupCommit\.earlyFlushSize must be 'auto' or an integer ≥ 0/);
    }
    expect(resolveCommandGatewayOptions({}).groupCommit.earlyFlushSize).toBe('auto');
  });

  it('with a window, gathers units that arrive across turns of the event loop', async () => {
    const journal = new CountingJournal();
    const batcher = new CommitBatcher(journal, { windowMs: 30, maxConcurrentBatches: 1 });
    const first = batcher.append(unit('a'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = batcher.append(unit('b'));
    await Promise.all([first, second]);
    expect(journal.calls).toEqual([2]);
  });

  describe('conditional units, on a journal that batches them (appendConditionalBatch)', () => {
    function decision(streamId: string, tag: string): AppendRequest {
      const event = { eventId: streamId, type: 'seat.taken', schemaVersion: 1, payload: {}, metadata: {}, tags: [tag], occurredAt: new Date() };
      return { writes: [{ streamId, aggregateType: 'seat', expectedVersion: 0, events: [event] }], condition: { failIfEventsMatch: [{ tags: [tag] }], after: null } };
    }

    /** Records the batches it is given; commits them all (or refuses every batch, with `refuse`). */
    class BatchingJournal extends InMemoryJournal {
      readonly batches: string[][] = [];
      refuse = false;
      async appendConditionalBatch(requests: readonly AppendRequest[]): Promise<import('../ports/journal.port.js').AppendResult[] | undefined> {
        this.batches.push(requests.map((request) => request.writes[0]!.streamId));
        if (this.refuse) return undefined;
        const results = [];
        for (const request of requests) results.push(await this.append(request));
        return results;
      }
    }

    it('batches decisions on disjoint tags together, and never two whose conditions match each other\'s events', async () => {
      const journal = new BatchingJournal();
      const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
      const outcomes = await Promise.allSettled([
        batcher.append(decision('a1', 'seat:1')),
        batcher.append(decision('b1', 'seat:2')),
        batcher.append(decision('a2', 'seat:1')),
        batcher.append(decision('c1', 'seat:3')),
      ]);
      for (const batch of journal.batches) {
        const seat1 = batch.filter((stream) => stream.startsWith('a'));
        expect(seat1.length).toBeLessThanOrEqual(1);
      }
      expect(journal.batches[0]).toEqual(['a1', 'b1', 'c1']);
      // a2 comes in a batch after a1 committed, and its condition (nothing on seat:1) fails alone.
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(AppendConditionConflictError);
    });

    it('writes the units of a refused batch one by one, so only the failing one fails', async () => {
      const journal = new BatchingJournal();
      journal.refuse = true;
      await journal.append(decision('x', 'seat:9'));
      const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
      const outcomes = await Promise.allSettled([batcher.append(decision('a', 'seat:8')), batcher.append(decision('b', 'seat:9'))]);
      expect(journal.batches).toEqual([['a', 'b']]);
      expect(outcomes[0].status).toBe('fulfilled');
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(AppendConditionConflictError);
    });

    it('writes the units of a refused batch alone but all at once, not one after another', async () => {
      /** Counts the appends under way at the same time (each takes a turn of the event loop). */
      class OverlapJournal extends BatchingJournal {
        inFlight = 0;
        mostInFlight = 0;
        override async append(request: AppendRequest) {
          this.inFlight++;
          this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
          try {
            await new Promise((resolve) => setImmediate(resolve));
            return await super.append(request);
          } finally {
            this.inFlight--;
          }
        }
      }
      const journal = new OverlapJournal();
      journal.refuse = true;
      const batcher = new CommitBatcher(journal, { maxConcurrentBatches: 1 });
      await Promise.all(['a', 'b', 'c', 'd'].map((stream, index) => batcher.append(decision(stream, `seat:${index}`))));
      expect(journal.batches).toEqual([['a', 'b', 'c', 'd']]);
      expect(journal.mostInFlight).toBe(4);
    });
  });
});
