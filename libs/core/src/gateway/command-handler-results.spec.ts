import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import { Aggregate } from '../aggregates/aggregate.decorator.js';
import { Applies } from '../aggregates/applies.decorator.js';
import { Handles } from '../aggregates/handles.decorator.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { DomainRuleViolation } from '../errors/domain-rule-violation.error.js';
import { Event } from '../events/event.decorator.js';
import { CommandGateway } from './command-gateway.js';

/*
 * A command handler may decide at once or after an await: the gateway takes a synchronous
 * handler's result without a promise (see AggregateDefinition.handle), and both kinds must end
 * the same way, whether they return events, something else, or throw.
 */
class Open {
  constructor(readonly tallyId: string) {}
}
class Count {
  constructor(readonly tallyId: string, readonly later: boolean) {}
}
class ReturnNumber {
  constructor(readonly tallyId: string, readonly later: boolean) {}
}
class Refuse {
  constructor(readonly tallyId: string, readonly later: boolean) {}
}

@Event('tally.opened')
class TallyOpened {
  constructor(readonly tallyId: string) {}
}
@Event('tally.counted')
class TallyCounted {
  constructor(readonly tallyId: string) {}
}

@Aggregate({ name: 'tally', id: 'tallyId' })
class Tally {
  count = 0;

  @Handles(Open, { creates: true })
  open(cmd: Open) {
    return new TallyOpened(cmd.tallyId);
  }

  @Handles(Count)
  countOne(cmd: Count) {
    const events = [new TallyCounted(cmd.tallyId), new TallyCounted(cmd.tallyId)];
    return cmd.later ? Promise.resolve(events) : events;
  }

  @Handles(ReturnNumber)
  returnNumber(cmd: ReturnNumber) {
    return cmd.later ? Promise.resolve(42) : 42;
  }

  @Handles(Refuse)
  refuse(cmd: Refuse) {
    const refusal = new DomainRuleViolation('not today', { code: 'tally.refused' });
    if (cmd.later) return Promise.reject(refusal);
    throw refusal;
  }

  @Applies(TallyOpened)
  onOpened() {
    this.count = 0;
  }

  @Applies(TallyCounted)
  onCounted() {
    this.count++;
  }
}

const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('CommandGateway: synchronous and asynchronous command handlers', () => {
  let journal: InMemoryJournal;
  let gateway: CommandGateway;

  beforeEach(async () => {
    journal = new InMemoryJournal();
    gateway = new CommandGateway({ catalog: new AggregateCatalog([Tally]), journal, logger: silent });
    await gateway.execute(new Open('t1'));
  });

  it.each([false, true])('appends the events a handler returns (after an await: %s)', async (later) => {
    const result = await gateway.execute(new Count('t1', later));
    expect(result.version).toBe(3);
    expect(result.events).toEqual([new TallyCounted('t1'), new TallyCounted('t1')]);
    expect((await journal.readStream('tally-t1')).map((event) => event.type)).toEqual(['tally.opened', 'tally.counted', 'tally.counted']);
  });

  it.each([false, true])('refuses a handler that returns something other than events, and writes nothing (after an await: %s)', async (later) => {
    await expect(gateway.execute(new ReturnNumber('t1', later))).rejects.toThrow(ConfigurationError);
    await expect(gateway.execute(new ReturnNumber('t1', later))).rejects.toThrow(/Tally.returnNumber\(\) returned 42; a handler returns event objects/);
    expect(await journal.readStream('tally-t1')).toHaveLength(1);
  });

  it.each([false, true])('rejects with the handler’s DomainRuleViolation, thrown or rejected, and writes nothing (after an await: %s)', async (later) => {
    await expect(gateway.execute(new Refuse('t1', later))).rejects.toMatchObject({ name: 'DomainRuleViolation', code: 'tally.refused' });
    expect(await journal.readStream('tally-t1')).toHaveLength(1);
    // The aggregate is still usable: the refusal left the cached copy as it was.
    expect((await gateway.execute(new Count('t1', false))).version).toBe(3);
  });
});
