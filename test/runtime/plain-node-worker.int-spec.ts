import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { main } from '../../examples/plain-node-worker/main.js';

jest.setTimeout(30_000);

describe('examples/plain-node-worker: Chronicle without Nest, on SQLite', () => {
  const directory = mkdtempSync(join(tmpdir(), 'chronicle-worker-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('runs its commands, catches the projection and the saga up, relays every event, and stops clean', async () => {
    const lines: string[] = [];
    const report = await main({ database: join(directory, 'worker.sqlite'), print: (line) => lines.push(line) });

    // Ada: 10 welcome bonus + 100 - 30; Bob: 10 + 5. The retried deposit was not applied twice.
    expect(report.balances).toEqual({ ada: 80, bob: 15 });
    expect(report.retryReplayed).toBe(true);
    // Four events on Ada's account (opened, bonus, deposit, withdrawal); the saga's bonus lands
    // whenever the saga runs, so versions of single events are not asserted.
    expect(report.ada.owner).toBe('Ada');
    expect(report.ada.balance).toBe(80);
    expect(report.ada.version).toBe(4);
    // Every event went through the outbox once: 2 openings, 2 bonuses, 2 deposits, 1 withdrawal.
    expect(report.published).toHaveLength(7);
    expect(report.published.filter((line) => line.startsWith('published account.deposited'))).toHaveLength(4);
    expect(report.published.filter((line) => /^published account\.withdrawn v\d of account\/ada$/.test(line))).toHaveLength(1);
    expect(lines).toContain('balances: {"ada":80,"bob":15}');
    expect(report.finalState).toBe('stopped');
    expect(report.timersAfterStop).toBe(0);
  });
});
