import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Scope, type Type } from '@nestjs/common';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import {
  On,
  OnDeadline,
  Projection,
  Saga,
  SagaHandler,
  StartsSaga,
  withCommandMetadata,
  type CommandResult,
  type Journal,
  type ProjectionContext,
  type SagaContext,
} from '@chronicle/core';
import { CHRONICLE_JOURNAL, EventSourcingModule, SubscriptionAdmin, SubscriptionsService } from '@chronicle/nestjs';
import { Ledger, LedgerOpened, OpenLedger, Post, Posted, Reverse, Reversed } from '../fixtures/ledger.aggregate.js';
import { waitUntil } from '../support/outbox-test-apps.js';

interface WatchState {
  posted: number;
  reminded?: boolean;
}

/** Watches a ledger: after three postings it reverses 1 and ends; a reminder posts 100 if it is still running. */
@Saga({ name: 'ledger-watch' })
@Injectable()
class LedgerWatchSaga {
  static reminderMs = 300;

  @StartsSaga(LedgerOpened, { associate: 'ledgerId' })
  start(_event: LedgerOpened, ctx: SagaContext<WatchState>): void {
    ctx.state = { posted: 0 };
    ctx.schedule('reminder', { afterMs: LedgerWatchSaga.reminderMs });
  }

  @SagaHandler(Posted, { associate: (event: Posted) => event.ledgerId })
  async posted(_event: Posted, ctx: SagaContext<WatchState>): Promise<void> {
    ctx.state.posted += 1;
    if (ctx.state.posted < 3) return;
    const outcome = await ctx.dispatch(new Reverse(ctx.correlationId, 1), { key: 'reverse' });
    if (outcome.status === 'accepted') ctx.complete();
  }

  @OnDeadline('reminder')
  async remind(_deadline: unknown, ctx: SagaContext<WatchState>): Promise<void> {
    ctx.state.reminded = true;
    await ctx.dispatch(new Post(ctx.correlationId, 100), { key: 'reminder-post' });
  }
}

/** Totals per ledger in a table of the same database, written through the checkpoint's transaction. */
@Projection({ name: 'totals' })
@Injectable()
class TotalsProjection {
  @On(LedgerOpened)
  async opened(event: LedgerOpened, { tx }: ProjectionContext<EntityManager>): Promise<void> {
    await tx.query('INSERT INTO ledger_totals (id, total) VALUES (?, 0)', [event.ledgerId]);
  }

  @On(Posted)
  async posted(event: Posted, { tx }: ProjectionContext<EntityManager>): Promise<void> {
    await tx.query('UPDATE ledger_totals SET total = total + ? WHERE id = ?', [event.amount, event.ledgerId]);
  }

  @On(Reversed)
  async reversed(event: Reversed, { tx }: ProjectionContext<EntityManager>): Promise<void> {
    await tx.query('UPDATE ledger_totals SET total = total - ? WHERE id = ?', [event.amount, event.ledgerId]);
  }

  async clear(tx: EntityManager): Promise<void> {
    await tx.query('DELETE FROM ledger_totals');
  }
}

describe('EventSourcingModule: @Projection and @Saga (SQLite file)', () => {
  let directory: string;
  const apps: TestingModule[] = [];

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'chronicle-subscriptions-'));
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    rmSync(directory, { recursive: true, force: true });
  });

  async function boot(providers: Type[] = [LedgerWatchSaga, TotalsProjection]): Promise<TestingModule> {
    const app = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'better-sqlite3', database: join(directory, 'ledger.sqlite') }),
        CqrsModule.forRoot(),
        ScheduleModule.forRoot(),
        EventSourcingModule.forRoot({ aggregates: [Ledger], subscriptions: { pollIntervalMs: 50, deadlinePollIntervalMs: 50 } }),
      ],
      providers,
    }).compile();
    await app.get<DataSource>(getDataSourceToken()).query('CREATE TABLE IF NOT EXISTS ledger_totals (id TEXT PRIMARY KEY, total INTEGER NOT NULL)');
    await app.init();
    apps.push(app);
    return app;
  }

  function send(app: TestingModule, command: object, commandId?: string): Promise<CommandResult> {
    return app.get(CommandBus).execute(withCommandMetadata(command, commandId ? { commandId } : {}));
  }

  async function totals(app: TestingModule): Promise<Record<string, number>> {
    const rows = (await app.get<DataSource>(getDataSourceToken()).query('SELECT id, total FROM ledger_totals ORDER BY id')) as Array<{ id: string; total: number }>;
    return Object.fromEntries(rows.map((row) => [row.id, row.total]));
  }

  /** The ledger's event types, marked with the command id when a saga dispatched the command. */
  async function eventTypes(app: TestingModule, ledgerId: string): Promise<string[]> {
    const events = await app.get<Journal>(CHRONICLE_JOURNAL).readStream(`ledger-${ledgerId}`);
    return events.map((event) => `${event.type}${event.metadata.commandId?.startsWith('ledger-watch:') ? `<${event.metadata.commandId}>` : ''}`);
  }

  it('correlates later events to the instance, dispatches with deterministic ids, and ignores events after it completed', async () => {
    LedgerWatchSaga.reminderMs = 60_000;
    const app = await boot();
    const admin = app.get(SubscriptionAdmin);
    await send(app, new OpenLedger('l1', 'Ada'));
    for (const amount of [5, 6, 7]) await send(app, new Post('l1', amount));
    await waitUntil(async () => (await admin.sagaInstance('ledger-watch', 'l1'))?.status === 'completed', 5_000, 'the saga to complete');
    const last = await send(app, new Post('l1', 8));
    await admin.waitForProjection('totals', last.cursor!, 5_000);
    await app.get(SubscriptionsService).flush();

    expect(await eventTypes(app, 'l1')).toEqual([
      'ledger.opened',
      'ledger.posted',
      'ledger.posted',
      'ledger.posted',
      'ledger.reversed<ledger-watch:l1:reverse>',
      'ledger.posted',
    ]);
    expect(await admin.sagaInstance('ledger-watch', 'l1')).toMatchObject({ status: 'completed', state: { posted: 3 } });
    expect(await admin.sagaDeadlines('ledger-watch', 'l1')).toEqual([]);
    expect(await totals(app)).toEqual({ l1: 5 + 6 + 7 - 1 + 8 });
  });

  it('fires a stored deadline after a restart', async () => {
    LedgerWatchSaga.reminderMs = 400;
    const first = await boot();
    await send(first, new OpenLedger('l2', 'Bob'));
    await waitUntil(async () => (await first.get(SubscriptionAdmin).sagaDeadlines('ledger-watch', 'l2')).length === 1, 5_000, 'the deadline to be stored');
    await first.close();
    apps.splice(apps.indexOf(first), 1);

    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await boot();
    await waitUntil(async () => (await totals(second)).l2 === 100, 5_000, 'the reminder to post 100');
    expect(await eventTypes(second, 'l2')).toEqual(['ledger.opened', 'ledger.posted<ledger-watch:l2:reminder-post>']);
    expect(await second.get(SubscriptionAdmin).sagaInstance('ledger-watch', 'l2')).toMatchObject({ status: 'active', state: { posted: 1, reminded: true } });
  });

  it('waits for a projection to pass a command position, and rebuilds it to the same model', async () => {
    LedgerWatchSaga.reminderMs = 60_000;
    const app = await boot([TotalsProjection]);
    const admin = app.get(SubscriptionAdmin);
    let last: CommandResult | undefined;
    for (const id of ['a', 'b', 'c']) {
      await send(app, new OpenLedger(id, id));
      for (let i = 1; i <= 4; i++) last = await send(app, new Post(id, i * 10));
    }
    await admin.waitForProjection('totals', last!.cursor!, 5_000);
    const incremental = await totals(app);
    expect(incremental).toEqual({ a: 100, b: 100, c: 100 });
    await app.get<DataSource>(getDataSourceToken()).query('UPDATE ledger_totals SET total = -1');
    const result = await admin.rebuildProjection('totals');
    expect(result).toMatchObject({ read: 15, handled: 15, parked: 0 });
    expect(await totals(app)).toEqual(incremental);
    await expect(admin.rebuildProjection('nope')).rejects.toThrow('No projection "nope"; known: totals.');
  });

  it('retries a failing saga instance, then parks its event without stopping the other instances', async () => {
    @Saga({ name: 'fragile', maxAttempts: 2 })
    @Injectable()
    class FragileSaga {
      static calls = 0;
      @StartsSaga(LedgerOpened, { associate: 'ledgerId' })
      start(event: LedgerOpened, ctx: SagaContext<{ owner: string }>): void {
        if (event.ledgerId === 'cursed') {
          FragileSaga.calls += 1;
          throw new Error('cursed ledgers cannot be watched');
        }
        ctx.state = { owner: event.owner };
      }
    }
    const app = await boot([FragileSaga]);
    const admin = app.get(SubscriptionAdmin);
    await send(app, new OpenLedger('cursed', 'X'));
    await send(app, new OpenLedger('fine', 'Y'));
    await waitUntil(async () => (await admin.sagaInstance('fragile', 'fine')) !== undefined, 5_000, 'the healthy instance to start');
    await waitUntil(async () => (await admin.parked('saga:fragile')).length === 1, 5_000, 'the cursed event to be parked');
    expect(FragileSaga.calls).toBe(2);
    const [parked] = await admin.parked('saga:fragile');
    expect(parked).toMatchObject({ streamId: 'ledger-cursed', version: 1, reason: 'failed', attempts: 2 });
    expect(parked?.error).toContain('cursed ledgers cannot be watched');
    expect(await admin.sagaInstance('fragile', 'cursed')).toBeUndefined();
    const [status] = (await admin.status()).filter((s) => s.name === 'saga:fragile');
    expect(status).toMatchObject({ parked: 1, lastError: expect.stringContaining('ledger-cursed@1') });
  });

  it('refuses a request-scoped projection and two sagas with one name, naming them', async () => {
    @Projection({ name: 'scoped' })
    @Injectable({ scope: Scope.REQUEST })
    class ScopedProjection {
      @On(Posted) posted(): void {}
    }
    await expect(boot([ScopedProjection])).rejects.toThrow("@Projection('scoped') on ScopedProjection is request-scoped");

    @Saga({ name: 'ledger-watch' })
    @Injectable()
    class Impostor {
      @StartsSaga(LedgerOpened, { associate: 'ledgerId' }) start(): void {}
    }
    await expect(boot([LedgerWatchSaga, Impostor])).rejects.toThrow('Saga name "ledger-watch" is used twice: by LedgerWatchSaga and by Impostor');
  });
});
