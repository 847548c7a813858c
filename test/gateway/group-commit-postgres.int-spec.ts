import { AggregateCatalog, CommandGateway, type AppendRequest, type ChronicleLogger } from '@chronicle/core';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { Ledger, OpenLedger, Post } from '../fixtures/ledger.aggregate.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const silent: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** A journal that remembers how many streams each unit of work wrote. */
class MeasuredJournal extends TypeOrmJournal {
  unitSizes: number[] = [];
  override append(request: AppendRequest) {
    this.unitSizes.push(request.writes.length);
    return super.append(request);
  }
}

await describePostgres('group commit on PostgreSQL', () => {
  let database: TestDatabase;
  beforeEach(async () => {
    database = await openPostgresSchema();
  });
  afterEach(() => database.close());

  it('two instances sharing overlapping aggregates: batches form, nothing deadlocks, nothing is lost, versions stay contiguous', async () => {
    const journals = [new MeasuredJournal(database.dataSource, database.tables), new MeasuredJournal(await database.openAnother(), database.tables)];
    const gateways = journals.map(
      (journal) => new CommandGateway({ catalog: new AggregateCatalog([Ledger]), journal, logger: silent }, { groupCommit: { maxBatchSize: 64 } }),
    );
    const ids = Array.from({ length: 40 }, (_, i) => `L${i}`);
    await Promise.all(ids.map((id, i) => gateways[i % 2]!.execute(new OpenLedger(id, 'x'))));

    const posted = new Map<string, number>();
    const commands = Array.from({ length: 600 }, (_, i) => {
      const id = ids[(i * 7) % ids.length]!;
      posted.set(id, (posted.get(id) ?? 0) + 1);
      return gateways[i % 2]!.execute(new Post(id, 1));
    });
    const outcomes = await Promise.allSettled(commands);
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => String(o.reason));
    expect(failures).toEqual([]);

    for (const id of ids) {
      const versions = (await journals[0]!.readStream(`ledger-${id}`)).map((e) => e.version);
      expect(versions).toEqual(Array.from({ length: 1 + (posted.get(id) ?? 0) }, (_, v) => v + 1));
    }
    // Group commit really grouped: some units of work carried many commands.
    const largest = Math.max(...journals.flatMap((journal) => journal.unitSizes));
    expect(largest).toBeGreaterThan(1);
  }, 30_000);

  it('a conflict inside a batch fails only that command', async () => {
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    const gateway = new CommandGateway({ catalog: new AggregateCatalog([Ledger]), journal, logger: silent });
    const outcomes = await Promise.allSettled([
      gateway.execute(new OpenLedger('A', 'x')),
      gateway.execute(new OpenLedger('B', 'x')),
      gateway.execute(new OpenLedger('C', 'x')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const rival = new CommandGateway({ catalog: new AggregateCatalog([Ledger]), journal: new TypeOrmJournal(await database.openAnother(), database.tables), logger: silent });
    await rival.execute(new Post('B', 5));
    // The gateway's cached B is stale: its command conflicts in the batch, is retried alone and succeeds;
    // a command with a stale expected version fails alone.
    const mixed = await Promise.allSettled([
      gateway.execute(new Post('A', 1)),
      gateway.execute(new Post('B', 1)),
      gateway.execute(new Post('C', 1), { expectedVersion: 0 }),
    ]);
    expect(mixed.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((mixed[2] as PromiseRejectedResult).reason).toMatchObject({ name: 'ConcurrencyError', expectedVersion: 0, actualVersion: 1 });
    expect(await journal.streamVersion('ledger-B')).toBe(3);
  });
});
