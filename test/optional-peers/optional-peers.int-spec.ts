import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The optional peers: an application on SQLite without RabbitMQ or health checks has none of them. */
const OPTIONAL_PEERS = ['amqplib', 'pg', 'pg-native', '@nestjs/terminus', '@nestjs/microservices', '@nats-io/*'];
const TEST_RUNNERS = ['@jest/globals', '@jest/*', 'jest', 'vitest'];

/**
 * Runs `args` in a plain Node process (no Jest), through register.mjs: Chronicle's sources under
 * Node's own resolver, with `blocked` unresolvable as if not installed.
 */
async function node(args: string[], blocked: string[]): Promise<{ stdout: string; attempts: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-peers-'));
  const attemptsFile = join(dir, 'attempts.txt');
  writeFileSync(attemptsFile, '');
  try {
    const { stdout } = await run(process.execPath, ['--import', './test/optional-peers/register.mjs', ...args], {
      // Jest's own NODE_OPTIONS (vm modules) have no place in the child.
      env: { ...process.env, NODE_OPTIONS: '', CHRONICLE_BLOCKED: blocked.join(','), CHRONICLE_BLOCKED_ATTEMPTS: attemptsFile },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout, attempts: attemptsFile };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface AppReport {
  totals: Record<string, number>;
  published: string[];
  refused: { status: number; body: unknown };
  unknown: { status: number; body: unknown };
  pgError: { name: string; message: string } | undefined;
  attempts: string[];
  rabbit: string;
}

describe('optional peers: an application on SQLite without amqplib, pg, @nestjs/terminus, @nestjs/microservices or NATS', () => {
  it('boots @chronicle/nestjs and @chronicle/typeorm and runs a command, a projection, a saga and the outbox, errors through the filter', async () => {
    const { stdout } = await node(['test/optional-peers/sqlite-app.ts'], OPTIONAL_PEERS);
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as AppReport;
    // The command and the saga's welcome posting, seen by the projection and both outbox handlers.
    expect(report.totals).toEqual({ L1: 15 });
    expect(report.published.sort()).toEqual(['ledger.opened', 'ledger.posted', 'ledger.posted']);
    expect(report.refused).toEqual({ status: 422, body: { statusCode: 422, error: 'Unprocessable Entity', message: 'cannot reverse 1000: total is 15' } });
    expect(report.unknown).toEqual({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'ledger "nobody" does not exist.' } });
    // Nothing of Chronicle's (nor the app's) even tried to load an optional peer. Nest's core
    // probes @nestjs/microservices itself, optionally, and goes on without it.
    expect(report.attempts.filter((line) => !line.includes('/node_modules/@nestjs/core/'))).toEqual([]);
    // A PostgreSQL feature names the package to install; the RabbitMQ subpath really cannot load.
    expect(report.pgError).toEqual({ name: 'ConfigurationError', message: expect.stringMatching(/needs the "pg" package.*npm install pg/) });
    expect(report.rabbit).toBe('ERR_MODULE_NOT_FOUND');
  }, 120_000);

  it('runs the framework-free runtime without @opentelemetry/api: looked for once at start, then telemetry is off', async () => {
    const { stdout } = await node(['test/optional-peers/worker-without-otel.ts'], ['@opentelemetry/*']);
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as { balances: Record<string, number>; published: number; finalState: string; attempts: string[] };
    expect(report.balances).toEqual({ ada: 80, bob: 15 });
    expect(report.published).toBe(7);
    expect(report.finalState).toBe('stopped');
    expect(report.attempts).toHaveLength(1);
    expect(report.attempts[0]).toMatch(/^@opentelemetry\/api <- .*chronicle-telemetry\.ts$/);
  }, 120_000);

  it('runs @chronicle/testing fixtures under node --test, with no test runner installed', async () => {
    const { stdout } = await node(['--test', '--test-reporter=tap', 'test/optional-peers/fixtures.node-test.ts'], [...TEST_RUNNERS, ...OPTIONAL_PEERS]);
    expect(stdout).toMatch(/^# pass 4$/m);
    expect(stdout).toMatch(/^# fail 0$/m);
  }, 120_000);
});
