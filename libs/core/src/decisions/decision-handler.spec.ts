import { randomBytes } from 'node:crypto';
import { InMemoryJournal } from '../adapters/in-memory-journal.js';
import { InMemoryKeyStore } from '../adapters/in-memory-key-store.js';
import { createInMemoryStorage } from '../adapters/in-memory-storage.js';
import { AggregateCatalog } from '../aggregates/aggregate-catalog.js';
import { AggregateAlreadyExistsError } from '../errors/aggregate-already-exists.error.js';
import { AppendConditionConflictError } from '../errors/append-condition-conflict.error.js';
import { ConfigurationError } from '../errors/configuration.error.js';
import { DomainRuleViolation } from '../errors/domain-rule-violation.error.js';
import { IdempotencyKeyReusedError } from '../errors/idempotency-key-reused.error.js';
import { InvalidCommandError } from '../errors/invalid-command.error.js';
import { Event } from '../events/event.decorator.js';
import { PersonalData } from '../events/personal-data.decorator.js';
import { CommandGateway } from '../gateway/command-gateway.js';
import type { ChronicleLogger } from '../logging/chronicle-logger.js';
import { EVENT_QUERY_LIMITS } from '../ports/event-query.js';
import type { AppendRequest, AppendResult, EventQuery, Journal, QueryPage, ReadByQueryOptions } from '../ports/journal.port.js';
import { createChronicle } from '../runtime/create-chronicle.js';
import { Decides } from './decides.decorator.js';
import { DecisionHandler } from './decision-handler.decorator.js';
import { Evolves } from './evolves.decorator.js';
import { CourseCapacity, Enrol, EnrolWithTags, Leave, Student, StudentEnrolled, type Seats } from './fixtures/course.fixture.js';

const silent: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

function gatewayOver(journal: Journal, decision: CourseCapacity, conflictRetries?: number): CommandGateway {
  const catalog = new AggregateCatalog([Student]).addDecisions([decision]);
  return new CommandGateway({ catalog, journal, logger: silent }, conflictRetries === undefined ? {} : { conflictRetries });
}

async function enrolled(journal: Journal, course: string): Promise<string[]> {
  const { events } = await journal.readByQuery([{ types: ['course.student-enrolled'], tags: [`course:${course}`] }]);
  return events.map((event) => (event.payload as { studentId: string }).studentId);
}

describe('Decision handlers (dynamic consistency boundaries through the gateway)', () => {
  describe('decorators and registration', () => {
    it('refuses a decision handler without @Decides, a command handled twice, and tags with a query', () => {
      @DecisionHandler({ name: 'empty', initialState: () => 0 })
      class Empty {}
      expect(() => new AggregateCatalog().addDecisions([new Empty()])).toThrow(/has no @Decides methods/);
      expect(() => new AggregateCatalog([Student]).addDecisions([new CourseCapacity(1), new CourseCapacity(1)])).toThrow(/used twice/);

      @DecisionHandler({ name: 'leave_twice', initialState: () => 0 })
      class LeaveTwice {
        @Evolves(StudentEnrolled) on(): void {}
        @Decides(Leave, { tags: () => ['x'] }) leave(): void {}
      }
      expect(() => new AggregateCatalog([Student]).addDecisions([new LeaveTwice()])).toThrow(/Command Leave is handled twice: by Student and by LeaveTwice/);
      expect(() => Decides(Enrol, { tags: () => [], query: () => [{}] })).toThrow(ConfigurationError);
      expect(() => DecisionHandler({ name: 'has-dash', initialState: () => 0 })).toThrow(/invalid/);
      expect(() => DecisionHandler({ name: 'no_state' } as never)).toThrow(/initialState/);
    });

    it('refuses @Decides on the @Evolves types when there are none, and an unregistered aggregate', () => {
      @DecisionHandler({ name: 'typeless', initialState: () => 0 })
      class Typeless {
        @Decides(Enrol, { tags: () => ['x'] }) enrol(): void {}
      }
      expect(() => new AggregateCatalog().addDecisions([new Typeless()])).toThrow(/has none/);
      expect(() => new AggregateCatalog().addDecisions([new CourseCapacity(1)])).toThrow(/not a registered aggregate/);
    });
  });

  describe('read, fold, decide, append', () => {
    it('folds the events of the query (its types, the tags from the command) and refuses past the limit, writing nothing', async () => {
      const journal = new InMemoryJournal();
      const capacity = new CourseCapacity(2);
      const gateway = gatewayOver(journal, capacity);
      await gateway.execute(new Enrol('ann', 'math'));
      await gateway.execute(new Enrol('bob', 'art')); // another course: not in math's query
      const second = await gateway.execute<StudentEnrolled, Seats>(new Enrol('cid', 'math'));
      expect(second).toMatchObject({ aggregateType: 'student', aggregateId: 'cid', streamId: 'student-cid', version: 1, replayed: false });
      expect(second.state).toEqual({ students: ['ann', 'cid'] });
      expect(second.events).toEqual([new StudentEnrolled('cid', 'math')]);
      const before = (await journal.readAll(null, 100)).events.length;
      const refusal = gateway.execute(new Enrol('dan', 'math'));
      await expect(refusal).rejects.toThrow(DomainRuleViolation);
      await expect(refusal).rejects.toThrow(/math is full: it holds 2/);
      expect((await journal.readAll(null, 100)).events).toHaveLength(before);
      expect(capacity.seen.at(-1)).toEqual({ students: ['ann', 'cid'] });
      expect(await enrolled(journal, 'math')).toEqual(['ann', 'cid']);
    });

    it('stores the new events with the tags of their @Event, and frees a seat when an aggregate command writes a matching event', async () => {
      const journal = new InMemoryJournal();
      const gateway = gatewayOver(journal, new CourseCapacity(1));
      await gateway.execute(new Enrol('ann', 'math'));
      const [stored] = await journal.readStream('student-ann');
      expect(stored?.tags).toEqual(['course:math', 'student:ann']);
      await expect(gateway.execute(new Enrol('bob', 'math'))).rejects.toThrow(DomainRuleViolation);
      await gateway.execute(new Leave('ann', 'math'));
      await expect(gateway.execute(new Enrol('bob', 'math'))).resolves.toMatchObject({ aggregateId: 'bob', version: 1 });
    });

    it('appends to an existing stream at its end, and refuses a creating decision on an existing stream', async () => {
      @Event('tally.counted', { tags: (e: Counted) => [`tally:${e.tally}`] })
      class Counted {
        constructor(readonly tally: string) {}
      }
      class Count {
        constructor(readonly tally: string) {}
      }
      class Start {
        constructor(readonly tally: string) {}
      }
      @DecisionHandler<number>({ name: 'tally', initialState: () => 0 })
      class Tally {
        @Evolves(Counted) counted(state: number): number {
          return state + 1;
        }
        @Decides(Count, { tags: (c: Count) => [`tally:${c.tally}`], id: 'tally' }) count(command: Count): Counted {
          return new Counted(command.tally);
        }
        @Decides(Start, { tags: (c: Start) => [`tally:${c.tally}`], id: 'tally', creates: true }) start(command: Start): Counted {
          return new Counted(command.tally);
        }
      }
      const journal = new InMemoryJournal();
      const gateway = new CommandGateway({ catalog: new AggregateCatalog().addDecisions([new Tally()]), journal, logger: silent });
      await gateway.execute(new Start('t'));
      const result = await gateway.execute<Counted>(new Count("t"));
      expect(result).toMatchObject({ aggregateType: 'tally', streamId: 'tally-t', version: 2 });
      expect(result.state as unknown).toBe(2);
      await expect(gateway.execute(new Start('t'))).rejects.toThrow(AggregateAlreadyExistsError);
      expect(await journal.streamVersion('tally-t')).toBe(2);
      // Another instance moves the stream: this gateway's remembered version is stale, and the
      // decision is retried on the stream's real version instead of failing.
      const other = new CommandGateway({ catalog: new AggregateCatalog().addDecisions([new Tally()]), journal, logger: silent });
      await other.execute(new Count('t'));
      const after = await gateway.execute<Counted>(new Count('t'));
      expect(after).toMatchObject({ version: 4 });
      expect(after.state as unknown).toBe(4);
      await expect(other.execute(new Start('t'))).rejects.toThrow(AggregateAlreadyExistsError);
    });
  });

  describe('concurrency', () => {
    it('commits exactly the capacity when many decisions from two gateways race on one course', async () => {
      const journal = new InMemoryJournal();
      const [a, b] = [gatewayOver(journal, new CourseCapacity(5)), gatewayOver(journal, new CourseCapacity(5))];
      const outcomes = await Promise.allSettled(
        Array.from({ length: 24 }, (_, index) => (index % 2 === 0 ? a : b).execute(new Enrol(`s${index}`, 'math'))),
      );
      const rejected = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
      for (const { reason } of rejected) expect(reason).toBeInstanceOf(DomainRuleViolation);
      expect(await enrolled(journal, 'math')).toHaveLength(5);
    });

    it('reads and decides again when a matching event commits between its read and its append', async () => {
      const journal = new InMemoryJournal();
      const capacity = new CourseCapacity(2);
      const other = gatewayOver(journal, new CourseCapacity(2));
      let interfered = false;
      // The first append of the decision is preceded by another gateway's enrolment in the same course.
      const racing: Journal = Object.create(journal) as Journal;
      racing.append = async (request: AppendRequest): Promise<AppendResult> => {
        if (!interfered && request.condition !== undefined) {
          interfered = true;
          await other.execute(new Enrol('zoe', 'math'));
        }
        return journal.append(request);
      };
      const gateway = gatewayOver(racing, capacity);
      await gateway.execute(new Enrol('ann', 'math'));
      await expect(gateway.execute(new Enrol('bob', 'math'))).rejects.toThrow(/full/);
      expect(capacity.seen).toEqual([{ students: [] }, { students: ['zoe'] }, { students: ['zoe', 'ann'] }]);
      expect(await enrolled(journal, 'math')).toEqual(['zoe', 'ann']);
    });

    it('gives up after conflictRetries with the named AppendConditionConflictError, having written nothing', async () => {
      const journal = new InMemoryJournal();
      const other = gatewayOver(journal, new CourseCapacity(100));
      let n = 0;
      const racing: Journal = Object.create(journal) as Journal;
      racing.append = async (request: AppendRequest): Promise<AppendResult> => {
        if (request.condition !== undefined) await other.execute(new Enrol(`other-${n++}`, 'math'));
        return journal.append(request);
      };
      const capacity = new CourseCapacity(100);
      const error = await gatewayOver(racing, capacity, 2).execute(new Enrol('ann', 'math')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppendConditionConflictError);
      expect(capacity.seen).toHaveLength(3);
      expect(await enrolled(journal, 'math')).not.toContain('ann');
    });
  });

  describe('the kept decision state', () => {
    /** A journal that records what each decision read: from where, and how many events it got. */
    function recording(journal: Journal): { journal: Journal; reads: Array<{ after: unknown; events: number }> } {
      const reads: Array<{ after: unknown; events: number }> = [];
      const spied: Journal = Object.create(journal) as Journal;
      spied.readByQuery = async (query: EventQuery, options?: ReadByQueryOptions): Promise<QueryPage> => {
        const page = await journal.readByQuery(query, options);
        reads.push({ after: options?.after ?? null, events: page.events.length });
        return page;
      };
      return { journal: spied, reads };
    }

    it('reads only the events committed since the last decision on the query, and decides on what a full read gives', async () => {
      const { journal, reads } = recording(new InMemoryJournal());
      const capacity = new CourseCapacity(3);
      const gateway = gatewayOver(journal, capacity);
      for (const student of ['ann', 'bob', 'cid']) await gateway.execute(new Enrol(student, 'math'));
      await expect(gateway.execute(new Enrol('dan', 'math'))).rejects.toThrow(/full/);
      // Each read after the first starts where the previous one ended and finds the one event since.
      expect(reads.map((read) => read.events)).toEqual([0, 1, 1, 1]);
      expect(reads[0]!.after).toBeNull();
      for (const read of reads.slice(1)) expect(read.after).not.toBeNull();
      expect(capacity.seen).toEqual([{ students: [] }, { students: ['ann'] }, { students: ['ann', 'bob'] }, { students: ['ann', 'bob', 'cid'] }]);
      // The same decisions with the cache off read everything every time and see the same states.
      const plain = recording(new InMemoryJournal());
      const uncached = new CourseCapacity(3);
      const off = new CommandGateway({ catalog: new AggregateCatalog([Student]).addDecisions([uncached]), journal: plain.journal, logger: silent }, { decisionCacheSize: 0 });
      for (const student of ['ann', 'bob', 'cid']) await off.execute(new Enrol(student, 'math'));
      await expect(off.execute(new Enrol('dan', 'math'))).rejects.toThrow(/full/);
      expect(plain.reads.map((read) => read.events)).toEqual([0, 1, 2, 3]);
      expect(uncached.seen).toEqual(capacity.seen);
    });

    it('sees what other gateways and aggregate commands committed since its read', async () => {
      const journal = new InMemoryJournal();
      const [a, b] = [gatewayOver(journal, new CourseCapacity(2)), gatewayOver(journal, new CourseCapacity(2))];
      await a.execute(new Enrol('ann', 'math'));
      await b.execute(new Enrol('bob', 'math'));
      await expect(a.execute(new Enrol('cid', 'math'))).rejects.toThrow(/full/);
      // A seat freed by an aggregate command (an evolver that changes the state in place) is seen too.
      await b.execute(new Leave('bob', 'math'));
      await expect(a.execute(new Enrol('cid', 'math'))).resolves.toMatchObject({ state: { students: ['ann', 'cid'] } });
      await expect(b.execute(new Enrol('dan', 'math'))).rejects.toThrow(/full/);
      expect(await enrolled(journal, 'math')).toEqual(['ann', 'bob', 'cid']);
    });

    it('keeps the fold of the read alone: neither the decision changing its state nor its own events leak into the next one', async () => {
      @Event('pool.joined', { tags: (e: Joined) => [`pool:${e.pool}`] })
      class Joined {
        constructor(readonly pool: string, readonly member: string) {}
      }
      class Join {
        constructor(readonly pool: string, readonly member: string) {}
      }
      const seen: string[][] = [];
      @DecisionHandler<{ members: string[] }>({ name: 'pool', initialState: () => ({ members: [] }) })
      class Pool {
        @Evolves(Joined) joined(state: { members: string[] }, event: Joined): void {
          state.members.push(event.member); // in place
        }
        @Decides(Join, { tags: (c: Join) => [`pool:${c.pool}`], id: 'member' }) join(command: Join, state: { members: string[] }): Joined {
          seen.push([...state.members]);
          state.members.push('scribbled by the decision');
          return new Joined(command.pool, command.member);
        }
      }
      const journal = new InMemoryJournal();
      const gateway = new CommandGateway({ catalog: new AggregateCatalog().addDecisions([new Pool()]), journal, logger: silent });
      const first = await gateway.execute(new Join('p', 'ann'));
      expect(first.state).toEqual({ members: ['scribbled by the decision', 'ann'] });
      await gateway.execute(new Join('p', 'bob'));
      await gateway.execute(new Join('p', 'cid'));
      expect(seen).toEqual([[], ['ann'], ['ann', 'bob']]);
    });

    it('folds afresh a state that is not plain data, or that was folded from personal data', async () => {
      class Roster {
        readonly names: string[] = [];
        get size(): number {
          return this.names.length;
        }
      }
      @Event('club.joined', { tags: (e: ClubJoined) => [`club:${e.club}`], subject: 'member' })
      class ClubJoined {
        @PersonalData() readonly name: string;
        constructor(readonly club: string, readonly member: string, name: string) {
          this.name = name;
        }
      }
      @Event('club.visited', { tags: (e: Visited) => [`club:${e.club}`] })
      class Visited {
        constructor(readonly club: string, readonly member: string) {}
      }
      class Join {
        constructor(readonly club: string, readonly member: string) {}
      }
      class Visit {
        constructor(readonly club: string, readonly member: string) {}
      }
      @DecisionHandler<Roster>({ name: 'roster', initialState: () => new Roster() })
      class Rosters {
        @Evolves(Visited) visited(state: Roster, event: Visited): void {
          state.names.push(event.member);
        }
        @Decides(Visit, { tags: (c: Visit) => [`club:${c.club}`], id: 'member' }) visit(command: Visit, state: Roster): Visited {
          expect(state).toBeInstanceOf(Roster);
          return new Visited(command.club, command.member);
        }
      }
      @DecisionHandler<string[]>({ name: 'members', initialState: () => [] })
      class Members {
        @Evolves(ClubJoined) joined(state: string[], event: ClubJoined): string[] {
          return [...state, event.name];
        }
        @Decides(Join, { tags: (c: Join) => [`club:${c.club}`], id: 'member' }) join(command: Join): ClubJoined {
          return new ClubJoined(command.club, command.member, `Name of ${command.member}`);
        }
      }
      const { journal, reads } = recording(new InMemoryJournal());
      const gateway = new CommandGateway({ catalog: new AggregateCatalog().addDecisions([new Rosters(), new Members()]), journal, logger: silent });
      for (const member of ['ann', 'bob', 'cid']) await gateway.execute(new Visit('chess', member));
      for (const member of ['ann', 'bob', 'cid']) await gateway.execute(new Join('go', member));
      expect(reads.map((read) => [read.after, read.events])).toEqual([
        [null, 0],
        [null, 1],
        [null, 2],
        // Its first state folded nothing personal (kept); the next folded a name (not kept).
        [null, 0],
        [expect.any(String), 1],
        [null, 2],
      ]);
    });

    it('reads the query afresh when the journal no longer knows the kept cursor (a journal emptied under the process)', async () => {
      let target = new InMemoryJournal();
      const swappable = new Proxy({} as Journal, {
        get: (_, property) => {
          const value = Reflect.get(target, property, target) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      const capacity = new CourseCapacity(2);
      const gateway = gatewayOver(swappable, capacity);
      for (const student of ['ann', 'bob']) await gateway.execute(new Enrol(student, 'math'));
      await expect(gateway.execute(new Enrol('cid', 'math'))).rejects.toThrow(/full/);
      // A fresh journal holding one enrolment: the kept cursor (3) is past its head.
      target = new InMemoryJournal();
      await gatewayOver(target, new CourseCapacity(2)).execute(new Enrol('zoe', 'math'));
      await expect(gateway.execute(new Enrol('cid', 'math'))).resolves.toMatchObject({ state: { students: ['zoe', 'cid'] } });
      expect(capacity.seen.at(-1)).toEqual({ students: ['zoe'] });
    });

    it('is dropped by forget: the next decision reads its query afresh', async () => {
      const storage = createInMemoryStorage();
      const { journal, reads } = recording(storage.journal);
      const chronicle = createChronicle({
        storage: { ...storage, journal },
        aggregates: [Student],
        decisions: [new CourseCapacity(5)],
        personalData: { keyStore: new InMemoryKeyStore({ masterKeys: { current: { id: 'm1', key: randomBytes(32).toString('base64') } } }) },
        logger: () => silent,
        options: { telemetry: false },
      });
      await chronicle.start();
      try {
        await chronicle.execute(new Enrol('ann', 'math'));
        await chronicle.execute(new Enrol('bob', 'math'));
        expect(reads.at(-1)?.after).not.toBeNull();
        await chronicle.forget('someone');
        await chronicle.execute(new Enrol('cid', 'math'));
        expect(reads.at(-1)).toEqual({ after: null, events: 2 });
      } finally {
        await chronicle.stop();
      }
    });
  });

  describe('idempotency by command id', () => {
    it('answers a retry with the first outcome, success or refusal, and refuses a reused key', async () => {
      const journal = new InMemoryJournal();
      const capacity = new CourseCapacity(1);
      const gateway = gatewayOver(journal, capacity);
      const first = await gateway.execute(new Enrol('ann', 'math'), { commandId: 'k1' });
      const again = await gateway.execute(new Enrol('ann', 'math'), { commandId: 'k1' });
      expect(again).toMatchObject({ replayed: true, version: 1, streamId: 'student-ann', cursor: first.cursor });
      expect(again.events).toEqual([new StudentEnrolled('ann', 'math')]);
      // A fresh gateway (another instance) finds the recorded outcome in the journal.
      const elsewhere = await gatewayOver(journal, new CourseCapacity(1)).execute(new Enrol('ann', 'math'), { commandId: 'k1' });
      expect(elsewhere.replayed).toBe(true);
      await expect(gateway.execute(new Enrol('bob', 'math'), { commandId: 'k2' })).rejects.toThrow(/full/);
      await gateway.execute(new Leave('ann', 'math'));
      // The refusal is the recorded outcome even though a seat is free now.
      await expect(gatewayOver(journal, new CourseCapacity(1)).execute(new Enrol('bob', 'math'), { commandId: 'k2' })).rejects.toThrow(/full/);
      await expect(gateway.execute(new Enrol('cid', 'math'), { commandId: 'k1' })).rejects.toThrow(IdempotencyKeyReusedError);
      expect(await enrolled(journal, 'math')).toEqual(['ann']);
    });
  });

  describe('bad input', () => {
    const tooLong = 'x'.repeat(EVENT_QUERY_LIMITS.maxLength + 1);
    const cases: Array<[string, unknown]> = [
      ['too many tags', Array.from({ length: EVENT_QUERY_LIMITS.maxTags + 1 }, (_, index) => `t${index}`)],
      ['an oversized tag', [tooLong]],
      ['an empty tag', ['']],
      ['tags that are not a list', 'owner:ann'],
    ];
    it.each(cases)('refuses a command whose query has %s with InvalidCommandError, writing nothing', async (_name, tags) => {
      const journal = new InMemoryJournal();
      const gateway = gatewayOver(journal, new CourseCapacity(5));
      const error = await gateway.execute(new EnrolWithTags('ann', tags)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidCommandError);
      expect((error as Error).message).toMatch(/EnrolWithTags is invalid: the query of its decision \(course_capacity\) is unusable/);
      expect(await journal.headPosition()).toBe(0);
    });

    it('refuses a query function that returns no items, or throws', async () => {
      class Pick {
        constructor(readonly aggregateId: string, readonly query: unknown) {}
      }
      @DecisionHandler({ name: 'picker', initialState: () => 0 })
      class Picker {
        @Evolves(StudentEnrolled) on(): void {}
        @Decides(Pick, { query: (c: Pick) => { if (c.query === 'throw') throw new Error('no owner'); return c.query as never; } })
        pick(): StudentEnrolled {
          return new StudentEnrolled('x', 'y');
        }
      }
      const journal = new InMemoryJournal();
      const gateway = new CommandGateway({ catalog: new AggregateCatalog().addDecisions([new Picker()]), journal, logger: silent });
      await expect(gateway.execute(new Pick('a', []))).rejects.toThrow(/at least one item/);
      await expect(gateway.execute(new Pick('a', []))).rejects.toBeInstanceOf(InvalidCommandError);
      await expect(gateway.execute(new Pick('a', 'throw'))).rejects.toThrow(/could not be computed: no owner/);
      expect(await journal.headPosition()).toBe(0);
    });
  });

  describe('createChronicle', () => {
    it('executes decisions given as instances, beside the aggregates', async () => {
      const chronicle = createChronicle({
        storage: createInMemoryStorage(),
        aggregates: [Student],
        decisions: [new CourseCapacity(1)],
        logger: () => silent,
        options: { telemetry: false },
      });
      await chronicle.start();
      try {
        await chronicle.execute(new Enrol('ann', 'math'));
        await expect(chronicle.execute(new Enrol('bob', 'math'))).rejects.toThrow(/full/);
        expect((await chronicle.read(Student, 'ann'))?.state.courses).toEqual(['math']);
      } finally {
        await chronicle.stop();
      }
    });

    it('takes decisions supplied late by a host (components) at start()', async () => {
      const chronicle = createChronicle({
        storage: createInMemoryStorage(),
        aggregates: [Student],
        components: () => ({ decisions: [new CourseCapacity(1)] }),
        logger: () => silent,
        options: { telemetry: false },
      });
      await chronicle.start();
      try {
        await chronicle.execute(new Enrol('ann', 'math'));
        await expect(chronicle.execute(new Enrol('bob', 'math'))).rejects.toThrow(/full/);
      } finally {
        await chronicle.stop();
      }
    });
  });
});
