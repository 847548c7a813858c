import { ConfigurationError } from '../errors/configuration.error.js';
import { Event } from '../events/event.decorator.js';
import { AggregateCatalog } from './aggregate-catalog.js';
import { Aggregate } from './aggregate.decorator.js';
import { Applies } from './applies.decorator.js';
import { Handles } from './handles.decorator.js';

class Ping {
  constructor(readonly aggregateId: string) {}
}
@Event('thing.pinged')
class Pinged {}
@Event('thing.pinged')
class PingedImpostor {}

@Aggregate({ name: 'thing' })
class Thing {
  @Handles(Ping, { creates: true }) ping() {
    return new Pinged();
  }
  @Applies(Pinged) onPinged() {}
}

describe('AggregateCatalog', () => {
  it('routes a command to its aggregate', () => {
    const catalog = new AggregateCatalog([Thing]);
    expect(catalog.forCommand(new Ping('x')).name).toBe('thing');
    expect(catalog.events.types()).toEqual(['thing.pinged']);
  });

  it('refuses two aggregates with one name, naming both classes', () => {
    @Aggregate({ name: 'thing' })
    class OtherThing {
      @Handles(class Other {}) other() {}
    }
    expect(() => new AggregateCatalog([Thing, OtherThing])).toThrow(ConfigurationError);
    expect(() => new AggregateCatalog([Thing, OtherThing])).toThrow('Aggregate name "thing" is used twice: by Thing and by OtherThing');
  });

  it('refuses a command handled by two aggregates', () => {
    @Aggregate({ name: 'copycat' })
    class Copycat {
      @Handles(Ping) ping() {}
    }
    expect(() => new AggregateCatalog([Thing, Copycat])).toThrow('Command Ping is handled twice: by Thing and by Copycat');
  });

  it('refuses an event type registered by two classes', () => {
    expect(() => new AggregateCatalog([Thing], [PingedImpostor])).toThrow(
      'Event type "thing.pinged" is registered twice: by Pinged and by PingedImpostor',
    );
  });

  it('refuses an aggregate class without @Aggregate, or without handlers', () => {
    class Plain {}
    expect(() => new AggregateCatalog([Plain])).toThrow('Plain is listed as an aggregate but has no @Aggregate');
    @Aggregate({ name: 'idle' })
    class Idle {}
    expect(() => new AggregateCatalog([Idle])).toThrow("@Aggregate Idle ('idle') has no @Handles methods");
  });

  it('refuses bad decorator input at decoration time with a named error', () => {
    expect(() => Aggregate({ name: 'has-dash' })).toThrow(/name "has-dash" is invalid/);
    expect(() => Aggregate({ name: 'ok', snapshot: { every: 0 } })).toThrow(/snapshot.every must be a positive integer, got 0/);
    expect(() => Event('')).toThrow(ConfigurationError);
    expect(() => Event('x', { version: 2, upcasters: { 2: (p) => p } })).toThrow(/upcasters must start at 1..1/);
    expect(() => {
      class Twice {
        @Handles(Ping) a() {}
        @Handles(Ping) b() {}
      }
      return Twice;
    }).toThrow('Twice handles Ping twice: in a() and in b()');
  });
});
