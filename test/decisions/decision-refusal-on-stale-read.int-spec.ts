import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { createChronicle, type Chronicle, type ChronicleLogger } from '@chronicle/core';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { CourseCapacity, Enrol, Leave, Student } from '../../libs/core/src/decisions/fixtures/course.fixture.js';
import { describePostgres } from '../support/services.js';
import { openPostgresSchema, openSqliteFile, type TestDatabase } from '../support/typeorm-test-data-sources.js';

// A decision that refuses a command records the refusal (its outcome, no event) on the condition
// of the read it decided on. When another instance commits a change to those facts between the
// read and the refusal, the refusal's append must fail like any other, so the handler reads again
// and decides on the new facts, and the command id never replays a refusal made on stale facts.

const quiet: ChronicleLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };

function staleRefusalSuite(name: string, open: () => Promise<TestDatabase>): void {
  describe(name, () => {
    let database: TestDatabase;
    const runtimes: Chronicle<unknown>[] = [];
    beforeEach(async () => {
      database = await open();
    });
    afterEach(async () => {
      await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
      await database.close();
    });

    async function runtime(dataSource: DataSource, handler: CourseCapacity): Promise<Chronicle<unknown>> {
      const chronicle = createChronicle({
        storage: createTypeOrmStorage(dataSource, database.tables),
        aggregates: [Student],
        decisions: [handler],
        logger: () => quiet,
        options: { migrate: false, telemetry: false },
      }) as unknown as Chronicle<unknown>;
      await chronicle.start();
      runtimes.push(chronicle);
      return chronicle;
    }

    it('never reports (nor records) a refusal on facts a concurrent commit changed between read and decision', async () => {
      const gated = new CourseCapacity(1);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inDecision = new Promise<void>((resolve) => (entered = resolve));
      const original = CourseCapacity.prototype.enrol;
      let calls = 0;
      // The first decision on bob's command waits between its read and its answer.
      (gated as unknown as { enrol: unknown }).enrol = async (command: Enrol, state: { students: string[] }) => {
        if (command.studentId === 'bob' && calls++ === 0) {
          entered();
          await gate;
        }
        return original.call(gated, command, state);
      };
      const a = await runtime(database.dataSource, gated);
      const b = await runtime(await database.openAnother(), new CourseCapacity(1));
      await a.execute(new Enrol('ann', 'math'));
      const bob = a.execute(new Enrol('bob', 'math'), { commandId: 'enrol-bob' }).then(
        (result) => result,
        (error: unknown) => error as Error,
      );
      await inDecision; // bob's decision has read "ann holds the only seat"
      await b.execute(new Leave('ann', 'math')); // the seat is freed and committed
      release();
      // The refusal was made on a read that the leave made stale: its condition must fail, and the
      // retry must see the free seat and enrol bob.
      const outcome = await bob;
      expect(outcome).not.toBeInstanceOf(Error);
      expect(outcome).toMatchObject({ streamId: 'student-bob', version: 1 });
      // And the command id must not replay a refusal.
      await expect(b.execute(new Enrol('bob', 'math'), { commandId: 'enrol-bob' })).resolves.toMatchObject({ replayed: true });
    }, 60_000);
  });
}

staleRefusalSuite('SQLite file (two connections)', () => openSqliteFile({ wal: true }));
await describePostgres('PostgreSQL', () => {
  staleRefusalSuite('PostgreSQL (two pools)', () => openPostgresSchema());
});
