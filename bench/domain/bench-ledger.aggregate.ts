import { IsInt, IsNotEmpty, IsPositive, IsString, MaxLength } from 'class-validator';
import { Aggregate, Applies, DomainRuleViolation, Event, Handles } from '@chronicle/core';

/*
 * The benchmark's aggregate: a copy of the integration tests' ledger (bench/ never imports from
 * test/), with snapshots every 100 versions as the issue asks. Commands carry class-validator
 * decorators, so the default validation runs on every command like in an application.
 */

export class OpenLedger {
  @IsString() @IsNotEmpty() @MaxLength(64) readonly ledgerId: string;
  @IsString() @IsNotEmpty() readonly owner: string;
  constructor(ledgerId: string, owner: string) {
    this.ledgerId = ledgerId;
    this.owner = owner;
  }
}

export class Post {
  @IsString() @IsNotEmpty() readonly ledgerId: string;
  @IsInt() @IsPositive() readonly amount: number;
  constructor(ledgerId: string, amount: number) {
    this.ledgerId = ledgerId;
    this.amount = amount;
  }
}

export class Reverse {
  @IsString() @IsNotEmpty() readonly ledgerId: string;
  @IsInt() @IsPositive() readonly amount: number;
  constructor(ledgerId: string, amount: number) {
    this.ledgerId = ledgerId;
    this.amount = amount;
  }
}

@Event('ledger.opened')
export class LedgerOpened {
  constructor(readonly ledgerId: string, readonly owner: string) {}
}

@Event('ledger.posted')
export class Posted {
  constructor(readonly ledgerId: string, readonly amount: number) {}
}

@Event('ledger.reversed')
export class Reversed {
  constructor(readonly ledgerId: string, readonly amount: number) {}
}

/** Snapshot cadence of the bench ledger. */
export const BENCH_SNAPSHOT_EVERY = 100;

/** A ledger whose total may not go below zero. */
@Aggregate({ name: 'ledger', id: 'ledgerId', snapshot: { every: BENCH_SNAPSHOT_EVERY } })
export class BenchLedger {
  owner = '';
  total = 0;

  @Handles(OpenLedger, { creates: true })
  open(cmd: OpenLedger) {
    return new LedgerOpened(cmd.ledgerId, cmd.owner);
  }

  @Handles(Post)
  post(cmd: Post) {
    return new Posted(cmd.ledgerId, cmd.amount);
  }

  @Handles(Reverse)
  reverse(cmd: Reverse) {
    if (cmd.amount > this.total) throw new DomainRuleViolation(`cannot reverse ${cmd.amount}: total is ${this.total}`, { code: 'ledger.overdraft' });
    return new Reversed(cmd.ledgerId, cmd.amount);
  }

  @Applies(LedgerOpened) onOpened(e: LedgerOpened) {
    this.owner = e.owner;
  }

  @Applies(Posted) onPosted(e: Posted) {
    this.total += e.amount;
  }

  @Applies(Reversed) onReversed(e: Reversed) {
    this.total -= e.amount;
  }
}
