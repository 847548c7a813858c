import { describe, expect, it } from '@jest/globals';
import { InMemoryKeyStore } from '../adapters/in-memory-key-store.js';
import { createInMemoryStorage } from '../adapters/in-memory-storage.js';
import { Decides } from '../decisions/decides.decorator.js';
import { DecisionHandler } from '../decisions/decision-handler.decorator.js';
import { Evolves } from '../decisions/evolves.decorator.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { EventRegistry } from '../events/event-registry.js';
import { Event } from '../events/event.decorator.js';
import { PersonalData } from '../events/personal-data.decorator.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import type { ChronicleStorage } from '../ports/chronicle-storage.port.js';
import { createChronicle } from '../runtime/create-chronicle.js';
import { withPersonalData } from './personal-data-storage.js';

const key = (byte: number): string => Buffer.alloc(32, byte).toString('base64');
const MASTER = { current: { id: 'm1', key: key(3) } };
const NAME = 'Philomena Quarrington';
const quiet = (): ChronicleLogger => ({ log: () => undefined, warn: () => undefined, error: () => undefined });
const background = { outbox: { relay: false }, subscriptions: { run: false } };

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

/** A decision whose only event is personal: no aggregate declares it. */
@DecisionHandler({ name: 'petitions', initialState: () => ({}) })
class Petitions {
  @Evolves(PetitionSigned) signed(state: object): object {
    return state;
  }
  @Decides(SignPetition, { id: 'petitionId' }) sign(command: SignPetition): PetitionSigned {
    return new PetitionSigned(command.petitionId, command.signatory);
  }
}

function wrapped(inner: ChronicleStorage, events: EventRegistry): ChronicleStorage {
  return withPersonalData(inner, { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events });
}

describe('Personal data nothing would seal', () => {
  it('refuses at start() a late decision whose event is personal when nothing would seal it, before its command can run', async () => {
    const inner = createInMemoryStorage();
    const runtime = createChronicle({ storage: inner, aggregates: [], components: () => ({ decisions: [new Petitions()] }), logger: quiet, options: background });
    const refused = await runtime.start().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as Error).message).toMatch(/"petition\.signed" declare @PersonalData fields, but createChronicle has nothing to encrypt them with/);
    // Refused before the catalog took the decision: its command was never routable.
    expect(runtime.catalog.decisions()).toEqual([]);
    await expect(runtime.gateway.execute(new SignPetition('p1', NAME))).rejects.toThrow();
    expect((await inner.journal.readAll(null, 10)).events).toEqual([]);
  });

  it('seals a late decision\'s personal event with personalData, or over a wrapped storage that declares it', async () => {
    for (const build of [
      (inner: ChronicleStorage) => ({ storage: inner, personalData: { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }) } }),
      (inner: ChronicleStorage) => ({ storage: wrapped(inner, new EventRegistry().register(PetitionSigned)) }),
    ]) {
      const inner = createInMemoryStorage();
      const runtime = createChronicle({ ...build(inner), aggregates: [], components: () => ({ decisions: [new Petitions()] }), logger: quiet, options: background });
      await runtime.start();
      await runtime.execute(new SignPetition('p1', NAME));
      await runtime.stop();
      const stored = await inner.journal.readAll(null, 10);
      expect(stored.events.map((event) => event.type)).toEqual(['petition.signed']);
      expect(JSON.stringify(stored)).not.toContain(NAME);
    }
  });
});
