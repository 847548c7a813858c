import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { CqrsModule } from '@nestjs/cqrs';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Injectable } from '@nestjs/common';
import { Chronicle, ConfigurationError, type ChronicleStorage, Decides, DecisionHandler, Event, Evolves, InMemoryKeyStore, MasterKeyMissingError, PersonalData, type KeyStore } from '@chronicle/core';
import { CHRONICLE_KEY_STORE, CHRONICLE_STORAGE, EventSourcingModule, type EventSourcingModuleOptions } from '@chronicle/nestjs';
import { TypeOrmKeyStore } from '@chronicle/typeorm';
import { Customer, CustomerRegistered, NoteCustomer, RegisterCustomer } from '../fixtures/customer.aggregate.js';
import { dumpTables, formsFound } from '../support/personal-data-dump.js';

const key = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
const NAME = 'Hildegard Vexworth-Ambrose';

function compile(options: EventSourcingModuleOptions, sqlite?: string): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [
      ...(sqlite ? [TypeOrmModule.forRoot({ type: 'better-sqlite3', database: sqlite, autoLoadEntities: true })] : []),
      CqrsModule.forRoot(),
      EventSourcingModule.forRoot({ aggregates: [Customer], registerEntities: sqlite !== undefined, ...options }),
    ],
  }).compile();
}

class SignPetition {
  constructor(
    readonly petitionId: string,
    readonly signatory: string,
  ) {}
}

@Event('petition.signed', { subject: 'petitionId' })
class PetitionSigned {
  @PersonalData() readonly signatory!: string;
  constructor(
    readonly petitionId: string,
    signatory: string,
  ) {
    this.signatory = signatory;
  }
}

/** A decision handler whose only event is personal: no aggregate of the module declares it. */
@Injectable()
@DecisionHandler({ name: 'petitions', initialState: () => ({}) })
class Petitions {
  @Evolves(PetitionSigned) signed(state: object): object {
    return state;
  }
  @Decides(SignPetition, { id: 'petitionId' }) sign(command: SignPetition): PetitionSigned {
    return new PetitionSigned(command.petitionId, command.signatory);
  }
}

function compileWithDecisions(options: EventSourcingModuleOptions): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [CqrsModule.forRoot(), EventSourcingModule.forRoot({ storage: 'in-memory', aggregates: [], decisions: [Petitions], ...options })],
    providers: [Petitions],
  }).compile();
}

describe('EventSourcingModule personalData option', () => {
  it('on SQLite: builds a TypeOrmKeyStore from masterKeys, seals personal fields, and forgets through the injected Chronicle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chr-pd-nest-'));
    let app: TestingModule | undefined;
    try {
      app = await compile({ personalData: { masterKeys: { current: { id: 'k1', key: key(3) } } } }, join(dir, 'db.sqlite'));
      await app.init();
      expect(app.get<KeyStore>(CHRONICLE_KEY_STORE)).toBeInstanceOf(TypeOrmKeyStore);
      const chronicle = app.get(Chronicle);
      const registered = await chronicle.execute<CustomerRegistered, Customer>(new RegisterCustomer('c1', NAME, { street: 'Lane 1', city: 'Ghent' }, []));
      expect(registered.state!.name).toBe(NAME);
      const dataSource = app.get<DataSource>(getDataSourceToken());
      expect(formsFound(await dumpTables(dataSource, {}), NAME)).toEqual([]);
      expect((await chronicle.read(Customer, 'c1'))!.state.name).toBe(NAME);

      const forgotten = await chronicle.forget('c1', { evict: [{ aggregate: Customer, id: 'c1' }] });
      expect(forgotten).toMatchObject({ subject: 'c1', destroyedNow: true });
      expect((await chronicle.read(Customer, 'c1'))!.state.name).toBeNull();
      // The aggregate keeps accepting commands after the forget.
      const noted = await chronicle.execute<object, Customer>(new NoteCustomer('c1', 'after'));
      expect(noted.state).toMatchObject({ name: null, notes: 1 });
      const [opened] = await chronicle.storage.journal.readStream('customer-c1');
      expect((opened!.payload as { name: unknown }).name).toBeNull();
      expect(await chronicle.rotateMasterKey()).toEqual({ rewrapped: 0 });
    } finally {
      await app?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in memory: builds an InMemoryKeyStore, or takes a keyStore of the application', async () => {
    const inMemory = await compile({ storage: 'in-memory', personalData: { masterKeys: { current: { id: 'k1', key: key(4) } }, keyCacheTtlMs: 0 } });
    expect(inMemory.get<KeyStore>(CHRONICLE_KEY_STORE)).toBeInstanceOf(InMemoryKeyStore);
    await inMemory.close();

    const own = new InMemoryKeyStore({ masterKeys: { current: { id: 'own', key: key(5) } } });
    const app = await compile({ storage: 'in-memory', personalData: { keyStore: own } });
    await app.init();
    expect(app.get<KeyStore>(CHRONICLE_KEY_STORE)).toBe(own);
    await app.get(Chronicle).execute(new RegisterCustomer('c2', NAME, { street: 's', city: 'c' }, []));
    expect((await own.keyFor('c2')).state).toBe('active');
    await app.get(Chronicle).forget('c2');
    expect((await own.keyFor('c2')).state).toBe('forgotten');
    await app.close();
  });

  it('refuses a missing or malformed master key, or both options at once, before anything starts', async () => {
    await expect(compile({ storage: 'in-memory', personalData: {} })).rejects.toThrow(MasterKeyMissingError);
    await expect(compile({ storage: 'in-memory', personalData: {} })).rejects.toThrow(/has no `masterKeys`/);
    await expect(compile({ storage: 'in-memory', personalData: { masterKeys: { current: { id: 'k1', key: undefined as unknown as string } } } })).rejects.toThrow(
      /Master key "k1" is missing: configure 32 random bytes/,
    );
    await expect(compile({ storage: 'in-memory', personalData: { masterKeys: { current: { id: 'k1', key: 'c2hvcnQ=' } } } })).rejects.toThrow(MasterKeyMissingError);
    const own = new InMemoryKeyStore({ masterKeys: { current: { id: 'own', key: key(5) } } });
    await expect(
      compile({ storage: 'in-memory', personalData: { keyStore: own, masterKeys: { current: { id: 'k1', key: key(1) } } } }),
    ).rejects.toThrow(ConfigurationError);
    // Without the option the module still refuses personal events, and says what to add.
    await expect(compile({ storage: 'in-memory' })).rejects.toThrow(/EventSourcingModule has nothing to encrypt them with.*personalData: \{ masterKeys/);
  });

  it("counts the decision handlers' personal events: refused without the option when the module is built, sealed with it", async () => {
    // Their instances reach the runtime only at start: the module checks their classes first.
    await expect(compileWithDecisions({})).rejects.toThrow(ConfigurationError);
    await expect(compileWithDecisions({})).rejects.toThrow(/"petition\.signed" declare @PersonalData fields, but EventSourcingModule has nothing to encrypt them with/);

    const app = await compileWithDecisions({ personalData: { masterKeys: { current: { id: 'k1', key: key(6) } } } });
    await app.init();
    try {
      const chronicle = app.get(Chronicle);
      await chronicle.execute(new SignPetition('p1', NAME));
      // The module's storage is the one the runtime wraps: what it holds is what was stored.
      const stored = await app.get<ChronicleStorage>(CHRONICLE_STORAGE).journal.readAll(null, 10);
      expect(stored.events.map((event) => event.type)).toEqual(['petition.signed']);
      expect(JSON.stringify(stored)).not.toContain(NAME);
      const [opened] = (await chronicle.storage.journal.readAll(null, 10)).events;
      expect((opened!.payload as { signatory: unknown }).signatory).toBe(NAME);
    } finally {
      await app.close();
    }
  });
});
