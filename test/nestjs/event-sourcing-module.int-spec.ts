import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Scope, type DynamicModule } from '@nestjs/common';
import { CommandBus, CqrsModule, EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import pg from 'pg';
import {
  Aggregate,
  Applies,
  Chronicle,
  CommandGateway,
  Event,
  ConfigurationError,
  Handles,
  InvalidCommandError,
  withCommandMetadata,
  type CommandInterceptor,
  type CommandResult,
  type CommittedCommand,
  type Journal,
  type OutboxMessage,
  type PostCommitListener,
} from '@chronicle/core';
import { CHRONICLE_JOURNAL, EventSourcingModule, OutboxHandler, OutboxRelayService } from '@chronicle/nestjs';
import { Customer } from '../fixtures/customer.aggregate.js';
import { Ledger, OpenLedger, Post, Posted, Reverse } from '../fixtures/ledger.aggregate.js';
import { POSTGRES_URL, createSchema, describePostgres, uniqueSchemaName } from '../support/services.js';

const seen: Posted[] = [];

@EventsHandler(Posted)
@Injectable()
class PostedListener implements IEventHandler<Posted> {
  handle(event: Posted): void {
    seen.push(event);
  }
}

type Storage = { typeorm: DynamicModule; driver: 'postgres' | 'better-sqlite3'; tables?: { schema?: string }; dataSource?: string };

async function boot(storage: Storage, extraImports: DynamicModule[] = []): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      storage.typeorm,
      CqrsModule.forRoot(),
      ...extraImports,
      EventSourcingModule.forRoot({
        aggregates: [Ledger],
        registerEntities: true,
        tables: storage.tables,
        dataSource: storage.dataSource,
        pruneIntervalMs: 60_000,
      }),
    ],
    providers: [PostedListener],
  }).compile();
  await moduleRef.init();
  return moduleRef;
}

function moduleSuite(name: string, storageFor: () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>): void {
  describe(`EventSourcingModule on ${name}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    let app: TestingModule | undefined;

    beforeEach(async () => {
      ({ storage, cleanup } = await storageFor());
      seen.length = 0;
    });
    afterEach(async () => {
      await app?.close();
      app = undefined;
      await cleanup();
    });

    it('routes aggregate commands from the CommandBus, stores the events, and publishes them on the EventBus after commit', async () => {
      app = await boot(storage);
      const bus = app.get(CommandBus);
      const opened: CommandResult = await bus.execute(new OpenLedger('L1', 'ann'));
      expect(opened).toMatchObject({ aggregateId: 'L1', version: 1, streamId: 'ledger-L1' });
      const posted: CommandResult = await bus.execute(withCommandMetadata(new Post('L1', 30), { commandId: 'post-1', correlationId: 'corr-1' }));
      expect(posted.version).toBe(2);
      expect(seen).toEqual([new Posted('L1', 30)]);
      const journal = app.get<Journal>(CHRONICLE_JOURNAL);
      const stored = await journal.readStream('ledger-L1');
      expect(stored.map((e) => e.type)).toEqual(['ledger.opened', 'ledger.posted']);
      expect(stored[1]?.metadata).toMatchObject({ commandId: 'post-1', correlationId: 'corr-1', causationId: 'post-1' });
    });

    it('validates commands with class-validator before anything runs', async () => {
      app = await boot(storage);
      const bus = app.get(CommandBus);
      const attempt = bus.execute(new OpenLedger('', 'ann'));
      await expect(attempt).rejects.toThrow(InvalidCommandError);
      await expect(attempt).rejects.toThrow(/ledgerId should not be empty/);
      const sneaky = Object.assign(new Post('L1', 5), { admin: true });
      await expect(bus.execute(sneaky)).rejects.toThrow(/property admin should not exist/);
      expect(await app.get<Journal>(CHRONICLE_JOURNAL).listStreams()).toEqual([]);
    });

    it('keeps state and idempotency across a restart on the same database', async () => {
      app = await boot(storage);
      await app.get(CommandBus).execute(withCommandMetadata(new OpenLedger('L1', 'ann'), { commandId: 'open' }));
      await app.get(CommandBus).execute(withCommandMetadata(new Post('L1', 10), { commandId: 'p1' }));
      await expect(app.get(CommandBus).execute(withCommandMetadata(new Reverse('L1', 50), { commandId: 'r1' }))).rejects.toThrow(/cannot reverse 50/);
      await app.close();

      app = await boot(storage);
      const bus = app.get(CommandBus);
      await expect(bus.execute(withCommandMetadata(new Post('L1', 10), { commandId: 'p1' }))).resolves.toMatchObject({ version: 2, replayed: true });
      await expect(bus.execute(withCommandMetadata(new Reverse('L1', 50), { commandId: 'r1' }))).rejects.toMatchObject({ code: 'ledger.overdraft', replayed: true });
      const view = await app.get(CommandGateway).read(Ledger, 'L1');
      expect(view).toMatchObject({ version: 2, state: { owner: 'ann', total: 10 } });
    });

    it('registers its entities in the DataSource; its pruning job runs on the runtime\'s own timers, none in the SchedulerRegistry', async () => {
      app = await boot(storage, [ScheduleModule.forRoot()]);
      const dataSource = app.get<DataSource>(getDataSourceToken(storage.dataSource));
      const tables = dataSource.entityMetadatas.map((m) => m.tableName).sort();
      expect(tables).toEqual(expect.arrayContaining(['chronicle_commands', 'chronicle_events', 'chronicle_snapshots', 'chronicle_streams']));
      const chronicle = app.get(Chronicle);
      expect(chronicle.state).toBe('running');
      // The pruning of command outcomes is the only job of an app without handlers or subscriptions.
      expect(chronicle.timerCount).toBe(1);
      expect(app.get(SchedulerRegistry).getIntervals()).toEqual([]);
      await app.close();
      expect(chronicle.timerCount).toBe(0);
      app = undefined;
    });

    it(`maps its entities onto the DataSource's own driver (${name}) without being told it, and reads events through them`, async () => {
      app = await boot(storage);
      await app.get(CommandBus).execute(new OpenLedger('L1', 'ann'));
      await app.get(CommandBus).execute(new Post('L1', 7));
      const dataSource = app.get<DataSource>(getDataSourceToken(storage.dataSource));
      expect(dataSource.options.type).toBe(storage.driver);
      // forFeature's lists are per process: earlier tests' entities (other schemas) are there too.
      const ours = (table: string) => dataSource.entityMetadatas.find((m) => m.tableName === table && m.schema === storage.tables?.schema)!;
      const events = ours('chronicle_events');
      const rows = await dataSource.getRepository<Record<string, unknown>>(events.target).find({ order: { position: 'ASC' } });
      expect(rows).toHaveLength(2);
      expect(rows[1]).toMatchObject({ streamId: 'ledger-L1', version: 2, position: expect.any(Number), occurredAt: expect.any(Date) });
      expect(typeof rows[1]!['payload']).toBe('object');
      expect(rows[1]!['metadata']).toEqual(expect.objectContaining({}));
      const outbox = ours('chronicle_outbox');
      expect(await dataSource.getRepository(outbox.target).count()).toBe(0);
    });

    it('two application instances on one database lose no concurrent command', async () => {
      app = await boot(storage);
      const second = await boot(storage);
      try {
        await app.get(CommandBus).execute(new OpenLedger('L1', 'ann'));
        const buses = [app.get(CommandBus), second.get(CommandBus)];
        await Promise.all(Array.from({ length: 40 }, (_, i) => buses[i % 2]!.execute(new Post('L1', 1))));
        for (const instance of [app, second]) {
          expect(await instance.get(CommandGateway).read(Ledger, 'L1')).toMatchObject({ version: 41, state: { total: 40 } });
        }
        const versions = (await app.get<Journal>(CHRONICLE_JOURNAL).readStream('ledger-L1')).map((e) => e.version);
        expect(versions).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
      } finally {
        await second.close();
      }
    });
  });
}

moduleSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-module-'));
  return {
    storage: {
      driver: 'better-sqlite3',
      typeorm: TypeOrmModule.forRoot({ type: 'better-sqlite3', database: join(dir, 'db.sqlite'), autoLoadEntities: true }),
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

await describePostgres('EventSourcingModule on PostgreSQL', () => {
  moduleSuite('PostgreSQL', async () => {
    const schema = uniqueSchemaName();
    const drop = await createSchema(schema);
    return {
      storage: {
        driver: 'postgres',
        tables: { schema },
        // A named DataSource: forFeature's entity lists are per process and per DataSource name.
        dataSource: 'pg',
        // `driver` given explicitly: TypeORM's own require('pg') misfires under Jest's ESM loader.
        typeorm: TypeOrmModule.forRoot({ name: 'pg', type: 'postgres', driver: pg, url: POSTGRES_URL, autoLoadEntities: true, extra: { max: 5 } }),
      },
      cleanup: drop,
    };
  });
});

/**
 * Boots the module with `registerEntities` over a DataSource the test keeps hold of (so it closes
 * it even when start-up fails); resolves to the start-up error, or undefined.
 */
async function startUpError(options: DataSourceOptions, extras: { registerEntities: true | 'postgres' | 'better-sqlite3'; tables?: { schema?: string } }): Promise<unknown> {
  let dataSource: DataSource | undefined;
  try {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...options, autoLoadEntities: true, retryAttempts: 2, retryDelay: 10 }),
          dataSourceFactory: async (resolved) => {
            dataSource = new DataSource(resolved!);
            return dataSource.initialize();
          },
        }),
        CqrsModule.forRoot(),
        EventSourcingModule.forRoot({ aggregates: [Ledger], ...extras }),
      ],
    }).compile();
    await moduleRef.close();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    if (dataSource?.isInitialized) await dataSource.destroy();
  }
}

describe('EventSourcingModule: the entity driver comes from the DataSource', () => {
  it("refuses registerEntities: 'postgres' on a SQLite DataSource at start-up, naming both drivers", async () => {
    const error = await startUpError({ type: 'better-sqlite3', database: ':memory:' }, { registerEntities: 'postgres' });
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/registerEntities: 'postgres'.*"better-sqlite3" driver/);
  });

  it('refuses a PostgreSQL schema for the entities of a SQLite DataSource', async () => {
    const error = await startUpError({ type: 'better-sqlite3', database: ':memory:' }, { registerEntities: true, tables: { schema: 'ledger' } });
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/schema "ledger" is for PostgreSQL/);
  });

  it("starts with registerEntities: 'better-sqlite3' on a SQLite DataSource", async () => {
    expect(await startUpError({ type: 'better-sqlite3', database: ':memory:' }, { registerEntities: 'better-sqlite3' })).toBeUndefined();
  });
});

await describePostgres('EventSourcingModule on PostgreSQL: the entity driver comes from the DataSource', () => {
  it("refuses registerEntities: 'better-sqlite3' on a PostgreSQL DataSource at start-up, naming both drivers", async () => {
    const schema = uniqueSchemaName();
    const drop = await createSchema(schema);
    try {
      const error = await startUpError(
        { type: 'postgres', driver: pg, url: POSTGRES_URL, extra: { max: 2 } },
        { registerEntities: 'better-sqlite3', tables: { schema } },
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(/registerEntities: 'better-sqlite3'.*"postgres" driver/);
    } finally {
      await drop();
    }
  });
});

describe('EventSourcingModule configuration', () => {
  it('works with forRootAsync and in-memory storage', async () => {
    const app = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        EventSourcingModule.forRootAsync({ aggregates: [Ledger], useFactory: async () => ({ storage: 'in-memory' as const }) }),
      ],
    }).compile();
    await app.init();
    await expect(app.get(CommandBus).execute(new OpenLedger('L1', 'ann'))).resolves.toMatchObject({ version: 1 });
    await app.close();
  });

  it('runs application interceptors and listeners that are providers, with their own dependencies', async () => {
    @Injectable()
    class Policy {
      readonly blocked = new Set(['L-blocked']);
    }
    @Injectable()
    class BlockList implements CommandInterceptor {
      constructor(private readonly policy: Policy) {}
      intercept(command: object): void {
        if (this.policy.blocked.has((command as { ledgerId?: string }).ledgerId ?? '')) throw new Error('ledger is blocked');
      }
    }
    const commits: string[] = [];
    @Injectable()
    class Audit implements PostCommitListener {
      afterCommit({ result }: CommittedCommand): void {
        commits.push(`${result.streamId}@${result.version}`);
      }
    }
    const app = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        EventSourcingModule.forRoot({ aggregates: [Ledger], storage: 'in-memory', interceptors: [BlockList], listeners: [Audit] }),
      ],
      providers: [Policy, BlockList, Audit],
    }).compile();
    await app.init();
    await expect(app.get(CommandBus).execute(new OpenLedger('L-blocked', 'eve'))).rejects.toThrow('ledger is blocked');
    await app.get(CommandBus).execute(new OpenLedger('L1', 'ann'));
    expect(commits).toEqual(['ledger-L1@1']);
    expect(await app.get<Journal>(CHRONICLE_JOURNAL).listStreams()).toEqual(['ledger-L1']);
    await app.close();
  });

  it('lets commands without class-validator rules through unvalidated', async () => {
    class Plain {
      constructor(readonly aggregateId: string) {}
    }
    @Event('plain.done')
    class Done {}
    @Aggregate({ name: 'plain' })
    class PlainAggregate {
      @Handles(Plain, { creates: true }) run() {
        return new Done();
      }
      @Applies(Done) onDone() {}
    }
    const app = await Test.createTestingModule({
      imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [PlainAggregate], storage: 'in-memory' })],
    }).compile();
    await app.init();
    await expect(app.get(CommandBus).execute(new Plain('p1'))).resolves.toMatchObject({ version: 1 });
    await app.close();
  });

  it('names a listed interceptor that is not a provider', async () => {
    class Orphan implements CommandInterceptor {
      intercept(): void {}
    }
    const app = await Test.createTestingModule({
      imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Ledger], storage: 'in-memory', interceptors: [Orphan] })],
    }).compile();
    await expect(app.init()).rejects.toThrow('The command interceptor Orphan is listed in EventSourcingModule but is not a provider');
  });

  describe('@OutboxHandler discovery', () => {
    async function bootWith(providers: Array<new (...args: never[]) => object>): Promise<void> {
      const app = await Test.createTestingModule({
        imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Ledger], storage: 'in-memory' })],
        providers,
      }).compile();
      try {
        await app.init();
      } finally {
        await app.close().catch(() => undefined);
      }
    }

    it('relays committed events to a discovered handler (in-memory storage)', async () => {
      const received: string[] = [];
      @Injectable()
      @OutboxHandler({ name: 'memo', events: [Posted] })
      class Memo {
        async publish(batch: readonly OutboxMessage[]): Promise<void> {
          received.push(...batch.map((m) => `${m.eventType}:${m.aggregateId}@${m.version}:${(m.event as Posted).amount}`));
        }
      }
      const app = await Test.createTestingModule({
        imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Ledger], storage: 'in-memory' })],
        providers: [Memo],
      }).compile();
      await app.init();
      await app.get(CommandBus).execute(new OpenLedger('L1', 'ann'));
      await app.get(CommandBus).execute(new Post('L1', 7));
      await app.get(OutboxRelayService).flush();
      expect(received).toEqual(['ledger.posted:L1@2:7']);
      await app.close();
    });

    it('refuses a request-scoped handler, naming it', async () => {
      @Injectable({ scope: Scope.REQUEST })
      @OutboxHandler({ name: 'scoped', events: '*' })
      class Scoped {
        async publish(): Promise<void> {}
      }
      await expect(bootWith([Scoped])).rejects.toThrow("@OutboxHandler('scoped') on Scoped is request-scoped");
    });

    it('refuses two handlers with one name, naming both classes', async () => {
      @Injectable()
      @OutboxHandler({ name: 'twin', events: '*' })
      class First {
        async publish(): Promise<void> {}
      }
      @Injectable()
      @OutboxHandler({ name: 'twin', events: '*' })
      class Second {
        async publish(): Promise<void> {}
      }
      await expect(bootWith([First, Second])).rejects.toThrow('Outbox handler name "twin" is used twice: by First and by Second');
    });

    it('refuses a handler without publish, and bad options at decoration time', async () => {
      @Injectable()
      @OutboxHandler({ name: 'mute', events: '*' })
      class Mute {}
      await expect(bootWith([Mute])).rejects.toThrow("@OutboxHandler('mute') on Mute has no publish(batch) method");
      expect(() => OutboxHandler({ name: 'x', events: [], batchSize: 1 })).toThrow(/needs events/);
      expect(() => OutboxHandler({ name: 'x', events: '*', maxAttempts: 0 })).toThrow(/maxAttempts must be an integer ≥ 1, got 0/);
      expect(() => OutboxHandler({ name: 'x', events: [class NotAnEvent {}] })).toThrow(/NotAnEvent, which is not an @Event class/);
    });
  });

  it('refuses events with @PersonalData fields at start-up rather than storing them in plain text', async () => {
    const compiling = Test.createTestingModule({
      imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Customer], storage: 'in-memory' })],
    }).compile();
    await expect(compiling).rejects.toThrow(ConfigurationError);
    await expect(
      Test.createTestingModule({
        imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Customer], storage: 'in-memory' })],
      }).compile(),
    ).rejects.toThrow(/declare @PersonalData fields, but EventSourcingModule has nothing to encrypt them with/);
  });

  it('refuses a duplicate aggregate name at start-up, naming it', async () => {
    @Aggregate({ name: 'ledger' })
    class Impostor {
      @Handles(class Nudge {}) nudge() {}
    }
    const compiling = Test.createTestingModule({
      imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Ledger, Impostor], storage: 'in-memory' })],
    }).compile();
    await expect(compiling).rejects.toThrow(ConfigurationError);
    await expect(
      Test.createTestingModule({
        imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Ledger, Impostor], storage: 'in-memory' })],
      }).compile(),
    ).rejects.toThrow('Aggregate name "ledger" is used twice: by Ledger and by Impostor');
  });

  it('says what to import when CqrsModule is missing', async () => {
    const app = await Test.createTestingModule({
      imports: [EventSourcingModule.forRoot({ aggregates: [Ledger], storage: 'in-memory' })],
    }).compile();
    await expect(app.init()).rejects.toThrow('import CqrsModule.forRoot()');
  });

  it('says what to import when the TypeORM DataSource is missing', async () => {
    await expect(
      Test.createTestingModule({ imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ aggregates: [Ledger] })] }).compile(),
    ).rejects.toThrow(/found no TypeORM DataSource "default": import TypeOrmModule.forRoot/);
  });
});
