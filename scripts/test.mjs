#!/usr/bin/env node
// Runs the whole test suite (jest in ESM mode) after probing the services some tests need.
//
// - In CI (CI=true) or with CHRONICLE_REQUIRE_SERVICES=1, a missing service is a failure: the
//   tests that need it run and fail.
// - Elsewhere, tests that need a missing service are skipped, and this script says which and why
//   before and after the run.
//
// Extra arguments go to jest (`npm test -- libs/core`). Ends with the line "N passed, N failed".
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const required = process.env.CI === 'true' || process.env.CHRONICLE_REQUIRE_SERVICES === '1';
const postgresUrl = process.env.CHRONICLE_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

async function probePostgres() {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${postgresUrl} is not reachable (${error.message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function probeTcp(name, url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port), timeout: 3000 });
    socket.once('connect', () => (socket.destroy(), resolve(undefined)));
    socket.once('timeout', () => (socket.destroy(), resolve(`${name} at ${hostname}:${port} did not answer`)));
    socket.once('error', (error) => resolve(`${name} at ${hostname}:${port} is not reachable (${error.message})`));
  });
}

const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim() };
const missing = [];
const postgres = await probePostgres();
const rabbit = await probeTcp('RabbitMQ', amqpUrl);
const nats = await probeTcp('NATS', natsUrl);
for (const [service, reason, variable] of [
  ['PostgreSQL', postgres, 'CHRONICLE_SKIP_POSTGRES'],
  ['RabbitMQ', rabbit, 'CHRONICLE_SKIP_RABBITMQ'],
  ['NATS', nats, 'CHRONICLE_SKIP_NATS'],
]) {
  if (!reason) continue;
  missing.push(`${service}: ${reason}`);
  if (!required) env[variable] = reason;
}
env.CHRONICLE_PG_URL = postgresUrl;
env.AMQP_URL = amqpUrl;
env.NATS_URL = natsUrl;

const banner = (lines) => console.log(`\n${'='.repeat(78)}\n${lines.join('\n')}\n${'='.repeat(78)}\n`);
if (missing.length > 0) {
  banner(
    required
      ? ['Services are REQUIRED here (CI=true) and some are missing; the tests that need them will fail:', ...missing]
      : ['Skipping the tests that need these services (set CI=true to make that a failure):', ...missing],
  );
}

// Phases: the ordinary projects in one jest run, the consumer test (scripts/consumer-test.mjs: the
// packed packages installed by an application outside the repository), then the reliability harness
// alone (it restarts PostgreSQL and RabbitMQ, so nothing else may run beside it). Extra arguments
// narrow the first phase and leave the other two out; `--reliability-only` runs just the harness,
// `--consumer-only` just the consumer test.
const argv = process.argv.slice(2);
const reliabilityOnly = argv.includes('--reliability-only');
const consumerOnly = argv.includes('--consumer-only');
const userArgs = argv.filter((arg) => arg !== '--reliability-only' && arg !== '--consumer-only');
const phases = [];
if (!reliabilityOnly && !consumerOnly) {
  const selects = userArgs.includes('--selectProjects');
  // The user's arguments go first: jest reads the words after --selectProjects as project names.
  phases.push({ name: 'tests', args: [...userArgs, ...(selects ? [] : ['--selectProjects', 'unit', 'integration', 'e2e'])] });
}
if (consumerOnly || (!reliabilityOnly && userArgs.length === 0)) {
  phases.push({ name: 'consumer test', consumer: true });
}
let reliabilitySkipped;
if (!consumerOnly && (reliabilityOnly || userArgs.length === 0)) {
  const reliabilityMissing = [postgres, rabbit].filter(Boolean);
  if (reliabilityMissing.length > 0 && !required) {
    reliabilitySkipped = `the reliability harness needs PostgreSQL and RabbitMQ: ${reliabilityMissing.join('; ')}`;
  } else {
    phases.push({ name: 'reliability harness', args: ['--selectProjects', 'reliability', '--runInBand', ...(reliabilityOnly ? userArgs : [])] });
  }
}

const total = { passed: 0, failed: 0, skipped: reliabilitySkipped ? 1 : 0 };
let ok = true;
for (const phase of phases) {
  if (phases.length > 1) console.log(`\n--- ${phase.name} ---`);
  const resultsFile = join(mkdtempSync(join(tmpdir(), 'chronicle-jest-')), 'results.json');
  if (phase.consumer) {
    const consumer = spawn(process.execPath, ['scripts/consumer-test.mjs'], { env: { ...env, CONSUMER_RESULTS: resultsFile }, stdio: 'inherit' });
    const code = await new Promise((resolve) => consumer.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
    try {
      const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
      total.passed += results.passed;
      total.failed += results.failed;
      total.skipped += results.skipped;
      if (code !== 0 || results.failed > 0) ok = false;
    } catch {
      console.log('the consumer test wrote no results');
      total.failed += 1;
      ok = false;
    }
    continue;
  }
  const jest = spawn(process.execPath, ['node_modules/jest/bin/jest.js', '--json', `--outputFile=${resultsFile}`, ...phase.args], {
    env,
    stdio: 'inherit',
  });
  const code = await new Promise((resolve) => jest.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  try {
    const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
    total.passed += results.numPassedTests;
    total.failed += results.numFailedTests + results.numRuntimeErrorTestSuites;
    total.skipped += results.numPendingTests + results.numTodoTests;
    if (code !== 0 || results.numFailedTests + results.numRuntimeErrorTestSuites > 0) ok = false;
  } catch {
    console.log(`jest wrote no results for the ${phase.name}`);
    total.failed += 1;
    ok = false;
  }
}
if (missing.length > 0 && !required) banner(['Skipped because of missing services:', ...missing]);
if (reliabilitySkipped) banner([`SKIPPED ${reliabilitySkipped}`]);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(ok ? 0 : 1);
