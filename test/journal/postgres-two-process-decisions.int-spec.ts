import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { TypeOrmJournal } from '@chronicle/typeorm';
import { describePostgres, POSTGRES_URL } from '../support/services.js';
import { openPostgresSchema, type TestDatabase } from '../support/typeorm-test-data-sources.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/decide-race.mjs', import.meta.url));

interface Outcome {
  step: 'done';
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
    this.ready = new Promise((resolve) => messages.on('line', (line) => (JSON.parse(line) as { step: string }).step === 'ready' && resolve()));
    this.done = new Promise((resolve) => {
      messages.on('line', (line) => {
        const message = JSON.parse(line) as Outcome;
        if (message.step === 'done') resolve(message);
      });
      this.child.on('exit', (code) => resolve({ step: 'done', error: `exited with ${String(code)}: ${stderr}` }));
    });
  }

  go(): void {
    this.child.stdin.write('go\n');
  }
}

await describePostgres('PostgreSQL decisions from two OS processes (DCB soundness across processes)', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await openPostgresSchema();
  });

  afterEach(async () => {
    await database.close();
  });

  it('of 2 × 12 concurrent "at most 10" decisions on one tag, exactly 10 commit, through the pipelined path', async () => {
    const schema = database.tables.schema ?? '';
    const deciders = [new Decider(schema, 'course:1', 10, 12), new Decider(schema, 'course:1', 10, 12)];
    await Promise.all(deciders.map((decider) => decider.ready));
    for (const decider of deciders) decider.go();
    const outcomes = await Promise.all(deciders.map((decider) => decider.done));
    for (const outcome of outcomes) expect(outcome.error).toBeUndefined();
    expect(outcomes.reduce((sum, outcome) => sum + (outcome.committed ?? 0), 0)).toBe(10);
    // Both processes appended through the pipeline (each decision that got as far as appending).
    for (const outcome of outcomes) expect(outcome.pipelined).toBeGreaterThan(0);
    const journal = new TypeOrmJournal(database.dataSource, database.tables);
    expect((await journal.readByQuery([{ tags: ['course:1'] }])).events).toHaveLength(10);
  }, 60_000);
});
