import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Saga, StartsSaga, type SagaContext } from '@chronicle/core';
import { LedgerOpened, OpenLedger, Post } from '../fixtures/ledger.aggregate.js';
import { telemetryFixture } from '../support/telemetry-harness.js';

/** Dispatches a command for each ledger opened: work a sampled-out trace causes downstream. */
@Saga({ name: 'bonus' })
class Bonus {
  @StartsSaga(LedgerOpened, { associate: 'ledgerId' })
  async opened(event: LedgerOpened, ctx: SagaContext): Promise<void> {
    await ctx.dispatch(new Post(event.ledgerId, 1));
    ctx.complete();
  }
}

const otel = telemetryFixture();
beforeAll(() => otel.enable());
afterEach(() => otel.closeAll());
afterAll(() => otel.disable());

describe('A trace the caller marked not sampled', () => {
  it('stays not sampled through a saga: the command it dispatches joins the caller\'s trace and is not recorded', async () => {
    const h = await otel.harness({ sagas: [new Bonus()] });
    const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    await h.chronicle.execute(new OpenLedger('u-1', 'ada'), { traceparent: unsampled });
    await h.chronicle.flush();
    const stream = await h.chronicle.storage.journal.readStream('ledger-u-1');
    expect(stream.map((event) => event.type)).toEqual(['ledger.opened', 'ledger.posted']);
    // Parent-based sampling: nothing of this trace is recorded, and the saga's command (not a new
    // sampled root) carries the caller's trace id, still flagged not sampled.
    expect(stream[1]!.metadata.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(otel.named('chronicle.command')).toEqual([]);
  });
});
