import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { buildDemo } from '../support/demo-process.js';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/decide-race.mjs', import.meta.url));

interface Outcome {
  step: 'ready' | 'done';
  committed?: number;
  pipelined?: number;
  error?: string;
}

/** Another OS process deciding on one tag through a journal of its own (fixtures/decide-race.mjs). */
class Decider {
  private readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<void>;
  readonly done: Promise<Outcome>;

  constructor(schema: string, tag: string, limit: number, attempts: number) {
    this.child = spawn(process.execPath, [SCRIPT, POSTGRES_URL, schema, tag, String(limit), String(attempts)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const messages = createInterface({ input: this.child.stdout });
    const parsed = (line: string): Outcome => {
      try {
        return JSON.parse(line) as Outcome;
      } catch {
        return { step: 'done', error: `not a message: ${line}` };
      }
    };
    const exited = new Promise<string>((resolve) => this.child.on('exit', (code) => resolve(`exited with ${String(code)}: ${stderr}`)));
    this.ready = new Promise((resolve, reject) => {
      messages.on('line', (line) => parsed(line).step === 'ready' && resolve());
      void exited.then((why) => reject(new Error(why)));
    });
    this.done = new Promise((resolve) => {
      messages.on('line', (line) => {
        const message = parsed(line);
        if (message.step === 'done') resolve(message);
      });
      void exited.then((why) => resolve({ step: 'done', error: why }));
    });
  }

  go(): void {
    this.child.stdin.write('go\n');
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

await describePostgres('PostgreSQL decisions from two OS processes (DCB soundness across processes)', () => {
  let database: TestDatabase;
  let deciders: Decider[] = [];

  // The processes run the compiled packages (dist/): built first, under the lock other tests building it take.
  beforeAll(async () => {
    await buildDemo();
  }, 300_000);

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    for (const decider of deciders.splice(0)) decider.kill();
    await database.close();
  });

  it('of 2 × 12 concurrent "at most 10" decisions on one tag, exactly 10 commit, through the pipelined path', async () => {
    const schema = database.tables.schema ?? '';
    deciders = [new Decider(schema, 'course:1', 10, 12), new Decider(schema, 'course:1', 10, 12)];
    await Promise.all(deciders.map((decider) => decider.ready));
    for (const decider of deciders) decider.go();
    const outcomes = await Promise.all(deciders.map((decider) => decider.done));
    for (const outcome of outcomes) expect(outcome.error).toBeUndefined();
    expect(outcomes.reduce((sum, outcome) => sum + (outcome.committed ?? 0), 0)).toBe(10);
    // Both processes sent their appends as pipelines (counted as sent; a failed one would have shown as an error above).
    for (const outcome of outcomes) expect(outcome.pipelined).toBeGreaterThan(0);
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    expect((await journal.readByQuery([{ tags: ['course:1'] }])).events).toHaveLength(10);
  }, 60_000);
});
