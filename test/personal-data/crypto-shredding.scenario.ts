import { describe, expect, it, jest } from '@jest/globals';
import {
  createChronicle,
  EventRegistry,
  On,
  OutboxHandler,
  Projection,
  Saga,
  StartsSaga,
  projectionSubscriptionName,
  withPersonalData,
  type Chronicle,
  type ChronicleLogger,
  type MasterKeyOptions,
  type OutboxMessage,
  type OutboxPublisher,
  type PersonalDataStorage,
  type SagaContext,
} from '@chronicle/core';
import { createTypeOrmStorage, TypeOrmKeyStore } from '@chronicle/typeorm';
import type { EntityManager } from 'typeorm';
import {
  Customer,
  CustomerNoted,
  CustomerRegistered,
  CustomerRenamed,
  NoteCustomer,
  RegisterCustomer,
  RenameCustomer,
} from '../fixtures/customer.aggregate.js';
import { dumpTables, formsFound, sqliteFileBytes } from '../support/personal-data-dump.js';
import type { TestDatabase } from '../support/typeorm-test-data-sources.js';

jest.setTimeout(60_000);

const key = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
export const MASTER_KEYS: MasterKeyOptions = { current: { id: 'm1', key: key(7) } };
const ROTATING: MasterKeyOptions = { current: { id: 'm2', key: key(8) }, previous: [{ id: 'm1', key: key(7) }] };
const NEW_ONLY: MasterKeyOptions = { current: { id: 'm2', key: key(8) } };

const NAME = 'Zebulon Quixotic-Fairweather';
const STREET = 'Rue des Oubliettes 17';
const PHONE = '+41 79 555 01 23';
const THIRD = 'Philippa Wolstenholme-Grey';
const KEPT = 'Ottilie Brandvold';
const SECRETS = [NAME, STREET, PHONE, THIRD];

/** Every line logged, to prove no plaintext reaches a log. */
export function capturingLogger(lines: string[]): () => ChronicleLogger {
  return () => ({
    log: (message: string) => void lines.push(String(message)),
    warn: (message: string) => void lines.push(String(message)),
    error: (message: string, trace?: string) => void lines.push(`${message} ${trace ?? ''}`),
  });
}

@OutboxHandler({ name: 'recorder', events: [CustomerRegistered, CustomerRenamed, CustomerNoted] })
class Recorder implements OutboxPublisher {
  readonly messages: OutboxMessage[] = [];
  async publish(batch: readonly OutboxMessage[]): Promise<void> {
    this.messages.push(...batch);
  }
  payloadOf(streamId: string, version: number): Record<string, unknown> | undefined {
    return this.messages.find((m) => m.streamId === streamId && m.version === version)?.payload;
  }
}

/** Added later with `startFrom: 'beginning'`: its entries are backfilled from the feed, sealed again. */
@OutboxHandler({ name: 'late', events: [CustomerRegistered], startFrom: 'beginning' })
class LateRecorder extends Recorder {}

@Projection({ name: 'directory', delivery: 'at-least-once' })
class Directory {
  readonly names = new Map<string, string | null>();
  @On(CustomerRegistered) registered(event: CustomerRegistered): void {
    this.names.set(event.customerId, event.name);
  }
  @On(CustomerRenamed) renamed(event: CustomerRenamed): void {
    this.names.set(event.customerId, event.name);
  }
}

@Saga({ name: 'welcome' })
class Welcome {
  readonly greeted = new Map<string, string | null>();
  @StartsSaga(CustomerRegistered, { associate: 'customerId' })
  start(event: CustomerRegistered, ctx: SagaContext<{ greeted: boolean }>): void {
    this.greeted.set(event.customerId, event.name);
    ctx.state = { greeted: true };
    ctx.complete();
  }
}

interface Instance {
  runtime: Chronicle<EntityManager>;
  storage: PersonalDataStorage<EntityManager>;
  recorder: Recorder;
  directory: Directory;
  welcome: Welcome;
  late: LateRecorder;
}

async function eventually(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The crypto-shredding guarantees on one database: declared personal fields never reach a table
 * in any encoding, `forget` shreds them for every read path, and the master key rotates while
 * commands run.
 */
export function cryptoShreddingScenario(database: string, open: () => Promise<TestDatabase>): void {
  describe(`Crypto-shredding on ${database}`, () => {
    function instance(db: TestDatabase, dataSource = db.dataSource, options: { background?: boolean; masterKeys?: MasterKeyOptions; logs?: string[]; late?: boolean; keyCacheTtlMs?: number } = {}): Instance {
      const events = new EventRegistry().register(CustomerRegistered, CustomerRenamed, CustomerNoted);
      const storage = withPersonalData(createTypeOrmStorage(dataSource, { ...db.tables, notifications: false }), {
        keyStore: new TypeOrmKeyStore(dataSource, { ...db.tables, masterKeys: options.masterKeys ?? MASTER_KEYS }),
        events,
        ...(options.keyCacheTtlMs === undefined ? {} : { keyCacheTtlMs: options.keyCacheTtlMs }),
      });
      const recorder = new Recorder();
      const directory = new Directory();
      const welcome = new Welcome();
      const late = new LateRecorder();
      const background = options.background ?? true;
      const runtime = createChronicle({
        storage,
        aggregates: [Customer],
        outboxHandlers: options.late ? [recorder, late] : [recorder],
        projections: background ? [directory] : [],
        sagas: background ? [welcome] : [],
        logger: capturingLogger(options.logs ?? []),
        options: { outbox: { relay: background, pollIntervalMs: 20 }, subscriptions: { pollIntervalMs: 20 } },
      });
      return { runtime, storage, recorder, directory, welcome, late };
    }

    async function expectNowhere(db: TestDatabase, secrets: readonly string[]): Promise<void> {
      const dump = await dumpTables(db.dataSource, db.tables);
      const raw = db.dataSource.options.type === 'postgres' ? '' : sqliteFileBytes(db.dataSource);
      for (const secret of secrets) {
        expect({ secret, inTables: formsFound(dump, secret), inFile: formsFound(raw, secret) }).toEqual({ secret, inTables: [], inFile: [] });
      }
    }

    it('stores personal fields only encrypted, and after forget every read path sees the replacements while everything keeps working', async () => {
      const db = await open();
      const logs: string[] = [];
      try {
        // Phase 1: one instance does everything; the values are readable through it.
        const first = instance(db, db.dataSource, { logs });
        await first.runtime.start();
        const registered = await first.runtime.execute<CustomerRegistered, Customer>(
          new RegisterCustomer('c1', NAME, { street: STREET, city: 'Lausanne' }, [PHONE]),
        );
        expect(registered.events[0]!.name).toBe(NAME);
        for (let i = 0; i < 3; i++) await first.runtime.execute(new NoteCustomer('c1', `note ${i}`));
        await first.runtime.execute(new RegisterCustomer('c2', KEPT, { street: 'Elm Street 1', city: 'Bern' }, []));
        await eventually(() => first.recorder.messages.length === 5 && first.directory.names.size === 2 && first.welcome.greeted.size === 2, 'phase 1 delivered');
        expect(first.recorder.payloadOf('customer-c1', 1)).toMatchObject({ customerId: 'c1', name: NAME, address: { street: STREET }, phones: [PHONE] });
        expect(first.directory.names.get('c1')).toBe(NAME);
        expect(first.welcome.greeted.get('c1')).toBe(NAME);
        await first.runtime.stop();

        // Plain fields stay queryable; the personal ones are sealed (key id, nonce, tag, ciphertext).
        const [row] = (await db.dataSource.query(
          db.dataSource.options.type === 'postgres'
            ? `SELECT payload::text AS payload FROM "${db.tables.schema}".chronicle_events WHERE type = 'customer.registered' AND stream_id = 'customer-c1'`
            : "SELECT payload FROM chronicle_events WHERE type = 'customer.registered' AND stream_id = 'customer-c1'",
        )) as { payload: string }[];
        const stored = JSON.parse(row!.payload) as Record<string, Record<string, unknown>>;
        expect(stored.customerId).toBe('c1');
        expect(Object.keys(stored.name!).sort()).toEqual(['$pd', 'c', 'k', 'n', 't']);
        expect(Buffer.from(stored.name!.n as string, 'base64')).toHaveLength(12);
        expect(Buffer.from(stored.name!.t as string, 'base64')).toHaveLength(16);
        const snapshots = (await db.dataSource.query(
          db.dataSource.options.type === 'postgres'
            ? `SELECT count(*)::int AS n FROM "${db.tables.schema}".chronicle_snapshots WHERE stream_id = 'customer-c1'`
            : "SELECT count(*) AS n FROM chronicle_snapshots WHERE stream_id = 'customer-c1'",
        )) as { n: number }[];
        expect(snapshots[0]!.n).toBeGreaterThan(0);
        await expectNowhere(db, SECRETS);

        // Phase 2: a writer that does not relay records c3 (its outbox entry waits, sealed); then forget.
        const writer = instance(db, await db.openAnother(), { background: false, logs });
        await writer.runtime.start();
        await writer.runtime.execute(new RegisterCustomer('c3', THIRD, { street: 'Nowhere 3', city: 'Basel' }, ['+41 00']));
        const before = Date.now();
        const forgotten = await writer.storage.forget('c1');
        expect(forgotten.destroyedNow).toBe(true);
        expect(forgotten.forgottenAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
        await writer.storage.forget('c3');
        await writer.runtime.stop();

        // Phase 3: a fresh instance (no cached keys): replay, snapshots, feed, projections (and a
        // rebuild), the saga and the relay all see the replacements, and commands still work.
        const second = instance(db, await db.openAnother(), { logs, late: true });
        await second.runtime.start();
        const noted = await second.runtime.execute<CustomerNoted, Customer>(new NoteCustomer('c1', 'after forget'));
        expect(noted.state).toMatchObject({ name: null, address: { street: '', city: '' }, phones: [], notes: 4 });
        // A forgotten subject gets no new key: what its new events carry is stored as the replacement
        // (the command's own result still shows what the caller sent; it never reaches a table).
        await second.runtime.execute(new RenameCustomer('c1', 'New Name For Forgotten'));
        expect((await second.runtime.execute<CustomerNoted, Customer>(new NoteCustomer('c2', 'still here'))).state!.name).toBe(KEPT);

        await eventually(
          () => second.recorder.messages.some((m) => m.streamId === 'customer-c1' && m.version === 6) && second.welcome.greeted.has('c3'),
          'the relay and the saga to catch up',
        );
        expect(second.recorder.payloadOf('customer-c3', 1)).toMatchObject({ name: null, address: { street: '', city: '' }, phones: [] });
        expect(second.recorder.payloadOf('customer-c1', 6)).toMatchObject({ customerId: 'c1', name: 'forgotten' });
        expect(second.welcome.greeted.get('c3')).toBeNull();
        await eventually(() => second.late.messages.length === 3, 'the late handler to be backfilled and relayed');
        expect(second.late.payloadOf('customer-c1', 1)).toMatchObject({ name: null, phones: [] });
        expect(second.late.payloadOf('customer-c2', 1)).toMatchObject({ name: KEPT });
        // The projection resumes from its checkpoint: it sees c3's registration and c1's rename.
        await eventually(() => second.directory.names.get('c1') === 'forgotten' && second.directory.names.has('c3'), 'the projection to catch up');
        expect(second.directory.names.get('c3')).toBeNull();

        const progress = await second.runtime.subscriptions.get(projectionSubscriptionName('directory'))!.rebuild(async () => second.directory.names.clear());
        expect(progress.parked).toBe(0);
        expect(second.directory.names.get('c1')).toBe('forgotten');
        expect(second.directory.names.get('c2')).toBe(KEPT);
        expect(second.directory.names.get('c3')).toBeNull();

        const feed = await second.storage.journal.readAll(null, 100);
        const opened = feed.events.find((e) => e.streamId === 'customer-c1' && e.version === 1)!;
        expect(opened.payload).toEqual({ customerId: 'c1', name: null, address: { street: '', city: '' }, phones: [] });
        expect((feed.events.find((e) => e.streamId === 'customer-c2' && e.version === 1)!.payload as { name: string }).name).toBe(KEPT);
        await second.runtime.stop();

        // A fresh process that rebuilds with no key cached (as `chronicle rebuild` does): the data
        // keys are read inside the rebuild's transaction; on SQLite a read beside it would wait for
        // ever for the one connection that transaction holds.
        const third = instance(db, await db.openAnother(), { logs, keyCacheTtlMs: 0 });
        await third.runtime.start();
        const rebuilt = await third.runtime.subscriptions.get(projectionSubscriptionName('directory'))!.rebuild(async () => third.directory.names.clear());
        expect(rebuilt.parked).toBe(0);
        expect([third.directory.names.get('c1'), third.directory.names.get('c2'), third.directory.names.get('c3')]).toEqual(['forgotten', KEPT, null]);
        await third.runtime.stop();

        // Values never reach a table in clear, forgotten or not (the backfilled entries included).
        await expectNowhere(db, [...SECRETS, KEPT, 'New Name For Forgotten']);
        for (const secret of [...SECRETS, KEPT, 'New Name For Forgotten']) {
          expect(logs.filter((line) => line.includes(secret))).toEqual([]);
        }
      } finally {
        await db.close();
      }
    });

    it('rotates the master key while commands run: nothing fails and everything still decrypts with the new key alone', async () => {
      const db = await open();
      try {
        const writer = instance(db, db.dataSource, { background: false, masterKeys: ROTATING });
        await writer.runtime.start();
        const old = instance(db, await db.openAnother(), { background: false });
        await old.runtime.start();
        for (let i = 0; i < 10; i++) await old.runtime.execute(new RegisterCustomer(`r${i}`, `Person ${i} Surname`, { street: `S${i}`, city: 'C' }, []));
        const rotator = new TypeOrmKeyStore(db.dataSource, { ...db.tables, masterKeys: ROTATING });
        const commands = Array.from({ length: 30 }, (_, i) =>
          writer.runtime.execute(i % 3 === 0 ? new RegisterCustomer(`n${i}`, `New ${i} Surname`, { street: 'x', city: 'y' }, []) : new NoteCustomer(`r${i % 10}`, `n${i}`)),
        );
        const [rotation, results] = await Promise.all([rotator.rotateMasterKey({ batchSize: 2 }), Promise.all(commands)]);
        expect(results).toHaveLength(30);
        expect(rotation.rewrapped).toBeGreaterThanOrEqual(1);
        await rotator.rotateMasterKey();
        await old.runtime.stop();
        await writer.runtime.stop();

        const fresh = instance(db, await db.openAnother(), { background: false, masterKeys: NEW_ONLY });
        const feed = await fresh.storage.journal.readAll(null, 1000);
        const names = feed.events.filter((e) => e.type === 'customer.registered').map((e) => (e.payload as { name: string }).name);
        expect(names.sort()).toEqual(
          [...Array.from({ length: 10 }, (_, i) => `Person ${i} Surname`), ...[0, 3, 6, 9, 12, 15, 18, 21, 24, 27].map((i) => `New ${i} Surname`)].sort(),
        );
      } finally {
        await db.close();
      }
    });
  });
}
