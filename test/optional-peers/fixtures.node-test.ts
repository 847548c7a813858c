// @chronicle/testing's fixtures under `node --test`, with @jest/globals, jest and vitest
// unresolvable: run by optional-peers.int-spec.ts, which counts the passes.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainRuleViolation } from '@chronicle/core';
import { aggregateFixture, manualClock } from '@chronicle/testing';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted, Reverse } from '../fixtures/ledger.aggregate.js';

describe('@chronicle/testing under node --test', () => {
  const ledger = () => aggregateFixture(Ledger);

  it('checks the events a command produces', async () => {
    await ledger().given().when(new OpenLedger('L1', 'ann')).thenEvents(new LedgerOpened('L1', 'ann'));
    await ledger().given(new LedgerOpened('L1', 'ann')).when(new Post('L1', 3)).thenEvents(new Posted('L1', 3));
  });

  it('checks a refusal', async () => {
    await ledger().given(new LedgerOpened('L1', 'ann')).when(new Reverse('L1', 3)).thenThrows(DomainRuleViolation, /cannot reverse 3/);
  });

  it('fails with an AssertionError when the events differ', async () => {
    await assert.rejects(ledger().given(new LedgerOpened('L1', 'ann')).when(new Post('L1', 3)).thenEvents(new Posted('L1', 4)), assert.AssertionError);
  });

  it('moves a manual clock', () => {
    const clock = manualClock(new Date('2026-01-01T00:00:00Z'));
    clock.advance(1_000);
    assert.equal(clock.now().toISOString(), '2026-01-01T00:00:01.000Z');
  });
});
