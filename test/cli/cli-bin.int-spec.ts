import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DataSource, type EntityManager } from 'typeorm';
import type { CliErrorJson, CliStatusJson } from '@chronicle/console';
import { createTypeOrmStorage } from '@chronicle/typeorm';
import { buildDemo } from '../support/demo-process.js';
import { seedTills } from './cli.scenario.js';

jest.setTimeout(300_000);

const BIN = 'libs/console/dist/cli/bin.js';

describe('the built chronicle bin as a real process (what `npx chronicle` runs)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'chronicle-cli-bin-'));
  const file = join(directory, 'chronicle.sqlite');
  beforeAll(async () => {
    await buildDemo();
    const dataSource = new DataSource({ type: 'better-sqlite3', database: file, timeout: 15_000 });
    await dataSource.initialize();
    try {
      await seedTills({
        storage: createTypeOrmStorage(dataSource),
        env: {},
        query: (sql: string) => (dataSource.manager as EntityManager).query(sql),
        close: () => Promise.resolve(),
      });
    } finally {
      await dataSource.destroy();
    }
  }, 300_000);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const chronicle = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });

  it('prints the status as JSON from DATABASE_URL, exits 0 and lets go of the database', () => {
    const run = chronicle(['status', '--json'], { DATABASE_URL: `sqlite:${file}` });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const status = JSON.parse(run.stdout) as CliStatusJson;
    expect(status.outbox).toEqual([expect.objectContaining({ handler: 'till-feed', deadLettered: 3 })]);
    expect(status.sagas).toEqual([expect.objectContaining({ saga: 'till-watch', active: { count: 3, atLeast: false } })]);
  });

  it('exits 2 with a JSON error on stderr when called wrongly, and 1 for an unknown id', () => {
    const usage = chronicle(['streams', '--limit', 'x', '--json'], { DATABASE_URL: `sqlite:${file}` });
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe('');
    expect((JSON.parse(usage.stderr) as CliErrorJson).error).toMatchObject({ name: 'CliUsageError', exitCode: 2 });
    const unknown = chronicle(['command', 'nope', '--database-url', `file:${file}`]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe('OperationsNotFoundError: No command "nope" was found. Outcomes are kept until pruned; check the id.\n');
  });
});
