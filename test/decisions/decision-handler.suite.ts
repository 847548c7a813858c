import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  createChronicle,
  DomainRuleViolation,
  InvalidCommandError,
  type Chronicle,
  type ChronicleLogger,
} from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { CourseCapacity, Enrol, EnrolWithTags, Leave, Student } from '../../libs/core/src/decisions/fixtures/course.fixture.js';
import type { TestDatabase } from '../support/typeorm-test-data-sources.js';

const quiet: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Decision handlers through `createChronicle` over a TypeORM storage: the read, the fold, the
 * conditional append and its retries, idempotency and bad input, on a real database. `open`
 * gives a migrated database whose `openAnother` reaches the same store through another pool (a
 * second instance).
 */
export function decisionHandlerSuite(name: string, open: () => Promise<TestDatabase>): void {
  describe(`Decision handlers on ${name}`, () => {
    let database: TestDatabase;
    const runtimes: Chronicle<unknown>[] = [];

    beforeEach(async () => {
      database = await open();
    });
    afterEach(async () => {
      await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
      await database.close();
    });

    async function runtime(dataSource: DataSource, capacity: number): Promise<Chronicle<unknown>> {
      const chronicle = createChronicle({
        storage: createTypeOrmStorage(dataSource, database.tables),
        aggregates: [Student],
        decisions: [new CourseCapacity(capacity)],
        logger: () => quiet,
        options: { migrate: false, telemetry: false },
      }) as unknown as Chronicle<unknown>;
      await chronicle.start();
      runtimes.push(chronicle);
      return chronicle;
    }

    async function enrolledIn(chronicle: Chronicle<unknown>, course: string): Promise<number> {
      const { events } = await chronicle.storage.journal.readByQuery([{ types: ['course.student-enrolled'], tags: [`course:${course}`] }]);
      return events.length;
    }

    it('commits exactly the capacity when many decisions race through two instances (two pools)', async () => {
      const a = await runtime(database.dataSource, 5);
      const b = await runtime(await database.openAnother(), 5);
      const outcomes = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? a : b).execute(new Enrol(`s${i}`, 'math'))));
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
      for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(DomainRuleViolation);
      expect(await enrolledIn(a, 'math')).toBe(5);
    }, 120_000);

    it('frees a seat at once when an aggregate command leaves the course, through the other instance', async () => {
      const a = await runtime(database.dataSource, 1);
      const b = await runtime(await database.openAnother(), 1);
      await a.execute(new Enrol('ann', 'math'));
      await expect(b.execute(new Enrol('bob', 'math'))).rejects.toThrow(/full/);
      await a.execute(new Leave('ann', 'math'));
      await expect(b.execute(new Enrol('bob', 'math'))).resolves.toMatchObject({ streamId: 'student-bob', version: 1 });
      expect((await b.read(Student, 'bob'))?.state.courses).toEqual(['math']);
    }, 60_000);

    it('replays the first outcome of a command id on the other instance, an accepted and a refused one', async () => {
      const a = await runtime(database.dataSource, 1);
      const b = await runtime(await database.openAnother(), 1);
      const first = await a.execute(new Enrol('ann', 'art'), { commandId: 'enrol-ann' });
      const again = await b.execute(new Enrol('ann', 'art'), { commandId: 'enrol-ann' });
      expect(again).toMatchObject({ replayed: true, version: 1, cursor: first.cursor });
      await expect(a.execute(new Enrol('bob', 'art'), { commandId: 'enrol-bob' })).rejects.toThrow(/full/);
      await a.execute(new Leave('ann', 'art'));
      await expect(b.execute(new Enrol('bob', 'art'), { commandId: 'enrol-bob' })).rejects.toThrow(/full/);
      expect(await enrolledIn(a, 'art')).toBe(1);
    }, 60_000);

    it('refuses a command whose computed query breaks the limits, writing nothing', async () => {
      const a = await runtime(database.dataSource, 5);
      const before = await a.storage.journal.headPosition();
      for (const tags of [['x'.repeat(257)], Array.from({ length: 17 }, () => randomUUID()), ['']]) {
        await expect(a.execute(new EnrolWithTags('ann', tags), { commandId: randomUUID() })).rejects.toBeInstanceOf(InvalidCommandError);
      }
      expect(await a.storage.journal.headPosition()).toBe(before);
    });
  });
}
