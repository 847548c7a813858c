import { describe, expect, it } from '@jest/globals';
import { InMemoryKeyStore } from '../adapters/in-memory-key-store.js';
import { createInMemoryStorage } from '../adapters/in-memory-storage.js';
import { Aggregate } from '../aggregates/aggregate.decorator.js';
import { Applies } from '../aggregates/applies.decorator.js';
import type { ClassType } from '../aggregates/class-type.js';
import { Handles } from '../aggregates/handles.decorator.js';
import { Decides } from '../decisions/decides.decorator.js';
import { DecisionHandler } from '../decisions/decision-handler.decorator.js';
import { Evolves } from '../decisions/evolves.decorator.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { UnknownCommandError } from '../errors/unknown-command.error.js';
import { EventRegistry } from '../events/event-registry.js';
import { Event } from '../events/event.decorator.js';
import { PersonalData } from '../events/personal-data.decorator.js';
import type { JsonValue } from '../events/json.js';
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

class Register {
  constructor(
    readonly memberId: string,
    readonly name: string,
  ) {}
}

@Event('member.registered', { subject: 'memberId' })
class MemberRegistered {
  @PersonalData() readonly name!: string;
  constructor(
    readonly memberId: string,
    name: string,
    readonly clubId = 'club-1',
  ) {
    this.name = name;
  }
}

@Aggregate({ name: 'member', id: 'memberId' })
class Member {
  @Handles(Register, { creates: true }) register(command: Register): MemberRegistered {
    return new MemberRegistered(command.memberId, command.name);
  }
  @Applies(MemberRegistered) onRegistered(): void {}
}

/** The same type name, declared by another class: as an older copy of the application might. */
function otherDeclaration(declare: 'same' | 'no-fields' | 'other-field' | 'other-replacement' | 'other-subject'): EventRegistry {
  if (declare === 'same') {
    @Event('member.registered', { subject: 'memberId' })
    class Copy {
      @PersonalData() readonly name!: string;
      constructor(readonly memberId: string) {}
    }
    return new EventRegistry().register(Copy);
  }
  if (declare === 'no-fields') {
    @Event('member.registered')
    class Copy {
      constructor(
        readonly memberId: string,
        readonly name: string,
      ) {}
    }
    return new EventRegistry().register(Copy);
  }
  if (declare === 'other-field') {
    @Event('member.registered', { subject: 'memberId' })
    class Copy {
      @PersonalData() readonly nickname!: string;
      constructor(readonly memberId: string) {}
    }
    return new EventRegistry().register(Copy);
  }
  if (declare === 'other-replacement') {
    @Event('member.registered', { subject: 'memberId' })
    class Copy {
      @PersonalData({ replacement: '[forgotten]' }) readonly name!: string;
      constructor(readonly memberId: string) {}
    }
    return new EventRegistry().register(Copy);
  }
  @Event('member.registered', { subject: 'clubId' })
  class Copy {
    @PersonalData() readonly name!: string;
    constructor(readonly clubId: string) {}
  }
  return new EventRegistry().register(Copy);
}

/**
 * A fresh copy of one event class at each call, as a module loaded twice gives: the same source,
 * another class, another subject function. `replacement` is its field's.
 */
function addressChanged(subject: 'property' | 'function', replacement: JsonValue): ClassType {
  class AddressChanged {
    @PersonalData({ replacement }) readonly address!: JsonValue;
    constructor(readonly memberId: string) {}
  }
  Event<AddressChanged>('address.changed', { subject: subject === 'property' ? 'memberId' : (event) => event.memberId })(AddressChanged);
  return AddressChanged;
}

function wrapped(inner: ChronicleStorage, events: EventRegistry): ChronicleStorage {
  return withPersonalData(inner, { keyStore: new InMemoryKeyStore({ masterKeys: MASTER }), events });
}

describe('Personal data events the runtime\'s storage would not seal', () => {
  it('refuses at start() a late decision whose event is personal when nothing would seal it, before its command can run', async () => {
    const inner = createInMemoryStorage();
    const runtime = createChronicle({ storage: inner, aggregates: [], components: () => ({ decisions: [new Petitions()] }), logger: quiet, options: background });
    const refused = await runtime.start().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as Error).message).toMatch(/"petition\.signed" declare @PersonalData fields, but createChronicle has nothing to encrypt them with/);
    // Refused before the catalog took the decision: its command was never routable. The gateway
    // routes by these two lookups; it refuses every command anyway, the failed start having closed it.
    const command = new SignPetition('p1', NAME);
    expect(runtime.catalog.decisions()).toEqual([]);
    expect(runtime.catalog.decisionFor(command)).toBeUndefined();
    expect(() => runtime.catalog.forCommand(command)).toThrow(UnknownCommandError);
    expect(() => runtime.catalog.forCommand(command)).toThrow(/"SignPetition"/);
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

  it('refuses, by name and before anything is written, a wrapped storage whose registry misses a personal event type', async () => {
    const inner = createInMemoryStorage();
    // The wrapping without the runtime, with a registry written before the member events existed.
    const storage = wrapped(inner, new EventRegistry().register(PetitionSigned));
    const build = () => createChronicle({ storage, aggregates: [Member], logger: quiet, options: background });
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(/"member\.registered" \(not in the wrapped storage's event registry\).*Register these event classes in the EventRegistry given to withPersonalData/);
    expect((await inner.journal.readAll(null, 10)).events).toEqual([]);

    // A late decision's event is held to the same rule, at start().
    const late = createChronicle({
      storage: wrapped(createInMemoryStorage(), new EventRegistry()),
      aggregates: [],
      components: () => ({ decisions: [new Petitions()] }),
      logger: quiet,
      options: background,
    });
    await expect(late.start()).rejects.toThrow(/"petition\.signed" \(not in the wrapped storage's event registry\)/);
    expect(late.catalog.decisions()).toEqual([]);

    // A wrapped storage whose registry cannot be read tells nothing of what it seals: refused too.
    const opaque = { ...wrapped(createInMemoryStorage(), new EventRegistry().register(MemberRegistered)), cipher: {} } as unknown as ChronicleStorage;
    expect(() => createChronicle({ storage: opaque, aggregates: [Member], logger: quiet, options: background })).toThrow(
      /"member\.registered" \(the wrapped storage's event registry could not be read\)/,
    );
  });

  it('refuses a type the wrapped registry declares with other personal fields, another replacement or another subject, and takes the same declaration', () => {
    const build = (events: EventRegistry) => () => createChronicle({ storage: wrapped(createInMemoryStorage(), events), aggregates: [Member], logger: quiet, options: background });
    // Sealed by the other declaration, `name` would be stored in clear.
    expect(build(otherDeclaration('no-fields'))).toThrow(/"member\.registered" \(the wrapped storage's registry declares @PersonalData none instead of name\)/);
    expect(build(otherDeclaration('other-field'))).toThrow(/"member\.registered" \(the wrapped storage's registry declares @PersonalData nickname instead of name\)/);
    // Sealed under the club's key, forget(memberId) would not erase it.
    // Sealed by the other declaration, a forgotten name would read as "[forgotten]", not as the declared null.
    expect(build(otherDeclaration('other-replacement'))).toThrow(
      /"member\.registered" \(the wrapped storage's registry declares another replacement \(name: "\[forgotten\]" instead of null\)\)/,
    );
    expect(build(otherDeclaration('other-subject'))).toThrow(/"member\.registered" \(the wrapped storage's registry declares another subject: "clubId" instead of "memberId"\)/);
    expect(build(otherDeclaration('same'))).not.toThrow();
    expect(build(new EventRegistry().register(MemberRegistered))).not.toThrow();
  });

  it('compares replacements as JSON, and refuses subject functions it cannot compare, saying both must be the same function', () => {
    const build = (declared: ClassType, sealing: ClassType) => () =>
      createChronicle({ storage: wrapped(createInMemoryStorage(), new EventRegistry().register(sealing)), aggregates: [], events: [declared], logger: quiet, options: background });
    // The same replacement, its keys in another order: alike.
    expect(build(addressChanged('property', { street: '', city: '' }), addressChanged('property', { city: '', street: '' }))).not.toThrow();
    expect(build(addressChanged('property', { street: '', city: '' }), addressChanged('property', { street: '', city: null }))).toThrow(
      /"address\.changed" \(the wrapped storage's registry declares another replacement \(address: \{"city":null,"street":""\} instead of \{"city":"","street":""\}\)\)/,
    );
    // Two copies of one class: their subject functions are not the same function.
    const functions = build(addressChanged('function', null), addressChanged('function', null));
    expect(functions).toThrow(ConfigurationError);
    expect(functions).toThrow(/"address\.changed" \(the wrapped storage's registry declares its subject by another function: functions cannot be compared, so both must declare the same function \(register the same class/);
    expect(build(addressChanged('property', null), addressChanged('function', null))).toThrow(
      /"address\.changed" \(the wrapped storage's registry declares its subject as a function instead of "memberId": a function cannot be compared with a property name/,
    );
    // The very class is the same declaration, function and all.
    const same = addressChanged('function', null);
    expect(build(same, same)).not.toThrow();
  });
});
