import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { On, Projection, type ChronicleLogger } from '@chronicle/core';
import { LedgerOpened, OpenLedger } from '../fixtures/ledger.aggregate.js';
import { telemetryFixture } from '../support/telemetry-harness.js';

/**
 * At-least-once. Its delivery of ledger "a" waits for a gate, so the event of the next command
 * joins the drain that the first commit started; ledger "b" fails twice before it goes through.
 */
@Projection({ name: 'gated', delivery: 'at-least-once', maxAttempts: 3 })
class Gated {
  gate: Promise<void> | undefined;
  reached: () => void = () => undefined;
  failuresOfB = 0;
  @On(LedgerOpened) async opened(event: LedgerOpened): Promise<void> {
    if (event.ledgerId === 'a') {
      this.reached();
      await this.gate;
    }
    if (event.ledgerId === 'b' && this.failuresOfB < 2) {
      this.failuresOfB += 1;
      throw new Error('transient');
    }
  }
}

const traceA = '0af7651916cd43dd8448eb211c80319c';
const traceB = '4bf92f3577b34da6a3ce929d0e0e4736';

const otel = telemetryFixture();
beforeAll(() => otel.enable());
afterEach(() => otel.closeAll());
afterAll(() => otel.disable());

describe('Work a commit wakes up', () => {
  it('runs outside the committing command\'s trace: a line about a later event names only that event\'s trace', async () => {
    const gated = new Gated();
    const lines: string[] = [];
    const logger = (): ChronicleLogger => ({ log: () => undefined, warn: (line) => lines.push(line), error: (line) => lines.push(line) });
    const h = await otel.harness({ projections: [gated], logger });
    let release!: () => void;
    gated.gate = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (gated.reached = resolve));
    await h.chronicle.execute(new OpenLedger('a', 'ada'), { traceparent: `00-${traceA}-b7ad6b7169203331-01` });
    await reached; // the drain A's commit woke holds A's event
    await h.chronicle.execute(new OpenLedger('b', 'bob'), { traceparent: `00-${traceB}-00f067aa0ba902b7-01` });
    release();
    await h.chronicle.flush();

    const retry = lines.find((line) => line.includes('ledger-b@1') && line.includes('failed (attempt'));
    expect(retry).toContain(`trace ${traceB}`);
    expect(retry).not.toContain(traceA);
  });
});
