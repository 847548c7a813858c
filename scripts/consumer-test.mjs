#!/usr/bin/env node
// The consumer test: Chronicle as an application outside the repository gets it.
//
// 1. Builds (tsc -b), checks that each build imports only what its package.json declares
//    (scripts/check-package-imports.mjs), and packs every package into a temporary folder.
// 2. Copies test/consumer/app to a folder under os.tmpdir(), points its @chronicle/* dependencies at
//    the tarballs and installs (its other dependencies come from the registry, through the npm cache).
// 3. SQLite, with none of the optional peers installed (pg, amqplib, @nestjs/microservices,
//    @nestjs/terminus, NATS): compiles with tsc (strict, no skipLibCheck), runs a fixture test of
//    @chronicle/testing under `node --test`, then the application (src/main-sqlite.ts), then
//    `npx chronicle status --json` (the CLI of @chronicle/console) on a migrated SQLite file.
// 4. PostgreSQL + RabbitMQ: installs pg and amqplib beside, compiles everything, runs src/main-postgres.ts.
//
// Each step is one check; the summary line is "consumer: N passed, N failed, N skipped". Without
// PostgreSQL or RabbitMQ the last run is skipped, unless CI=true or CHRONICLE_REQUIRE_SERVICES=1
// (then it fails). With CONSUMER_RESULTS=<file> the counts are written there as JSON (scripts/test.mjs).
// CONSUMER_KEEP=1 keeps the temporary folder.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const required = process.env.CI === 'true' || process.env.CHRONICLE_REQUIRE_SERVICES === '1';
const postgresUrl = process.env.CHRONICLE_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const work = mkdtempSync(join(tmpdir(), 'chronicle-consumer-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
mkdirSync(tarballs);
const counts = { passed: 0, failed: 0, skipped: 0 };
const figures = [];

function run(command, args, cwd, env = {}) {
  return new Promise((done) => {
    const started = performance.now();
    let output = '';
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => done({ code, output, seconds: (performance.now() - started) / 1000 }));
  });
}

/** One check: runs `command`, counts it, prints its output when it fails. */
async function check(name, command, args, cwd, env) {
  const result = await run(command, args, cwd, env);
  if (result.code === 0) {
    counts.passed++;
    console.log(`  ok   ${name} (${result.seconds.toFixed(1)} s)`);
  } else {
    counts.failed++;
    console.log(`  FAIL ${name} (exit ${result.code}, ${result.seconds.toFixed(1)} s)\n${result.output.replace(/^/gm, '       ')}`);
  }
  return result;
}

function skip(name, reason) {
  counts.skipped++;
  console.log(`  skip ${name}: ${reason}`);
}

function probe(url) {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = net.connect({ host: hostname, port: Number(port), timeout: 3000 });
    socket.once('connect', () => (socket.destroy(), done(undefined)));
    socket.once('timeout', () => (socket.destroy(), done(`${hostname}:${port} did not answer`)));
    socket.once('error', (error) => done(`${hostname}:${port} is not reachable (${error.message})`));
  });
}

/**
 * better-sqlite3 fetches its prebuilt binary from GitHub, which our machines cannot reach, and then
 * compiles SQLite (about 2.5 minutes of both cores). The repository's own install already built the
 * same version for this Node ABI and platform: serve that binary as the prebuild mirror
 * (npm_config_better_sqlite3_binary_host), so the app installs better-sqlite3 from the registry
 * without compiling it again. Without a built binary here (or off glibc Linux) nothing is served and
 * better-sqlite3 compiles as usual.
 */
async function servePrebuiltSqlite() {
  const dir = join(root, 'node_modules/better-sqlite3');
  const binary = join(dir, 'build/Release/better_sqlite3.node');
  const glibc = process.platform === 'linux' && Boolean(process.report?.getReport().header.glibcVersionRuntime);
  if (!existsSync(binary) || !glibc) return undefined;
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const mirror = join(work, 'prebuilds');
  mkdirSync(join(mirror, `v${version}`), { recursive: true });
  execFileSync('tar', ['-czf', join(mirror, `v${version}`, name), '-C', dir, 'build/Release/better_sqlite3.node']);
  const server = createServer((request, response) => {
    const file = join(mirror, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    if (!file.startsWith(mirror) || !existsSync(file)) return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/gzip' }).end(readFileSync(file));
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  server.unref();
  return `http://127.0.0.1:${server.address().port}`;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npmInstall = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
console.log(`consumer test in ${work}`);
try {
  const build = await check('build (tsc -b)', npm, ['run', 'build', '--silent'], root);
  if (build.code !== 0) throw new Error('the build failed');
  await check('every import of every build is declared in its package.json', process.execPath, ['scripts/check-package-imports.mjs'], root);
  const pack = await check('npm pack every package', npm, ['pack', '--workspaces', '--json', '--pack-destination', tarballs], root);
  if (pack.code !== 0) throw new Error('npm pack failed');
  const packed = JSON.parse(pack.output.slice(pack.output.indexOf('[')));
  for (const p of packed) figures.push(`${p.name}: ${p.filename}, ${(p.size / 1024).toFixed(1)} kB packed, ${(p.unpackedSize / 1024).toFixed(1)} kB unpacked, ${p.entryCount} files`);

  cpSync(join(root, 'test/consumer/app'), app, { recursive: true, filter: (source) => !/[/\\](node_modules|dist)$/.test(source) });
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  for (const p of packed) {
    for (const section of ['dependencies', 'devDependencies']) {
      if (manifest[section]?.[p.name]) manifest[section][p.name] = `file:${join(tarballs, p.filename)}`;
    }
  }
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  // SQLite, none of the optional peers installed.
  const sqliteMirror = await servePrebuiltSqlite();
  const install = await check('install the tarballs and the app dependencies (no optional peers)', npm, npmInstall, app, sqliteMirror ? { npm_config_better_sqlite3_binary_host: sqliteMirror } : {});
  figures.push(`install of the consumer app: ${install.seconds.toFixed(1)} s`);
  if (install.code !== 0) throw new Error('npm install failed');
  const compile = await check('tsc strict, no skipLibCheck (SQLite app)', join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.sqlite.json'], app);
  figures.push(`tsc of the consumer app (SQLite part): ${compile.seconds.toFixed(1)} s`);
  if (compile.code === 0) {
    await check('@chronicle/testing fixture under node --test', process.execPath, ['--test', 'dist/test/wallet.fixture.test.js'], app);
    await check('SQLite app: aggregate, idempotent command, projection, outbox handler, saga, exception filter', process.execPath, ['dist/src/main-sqlite.js'], app);
  }
  // The chronicle CLI as `npx chronicle` finds it: the bin of the installed @chronicle/console, on a
  // SQLite file migrated by @chronicle/typeorm (the CLI itself never migrates).
  const migrate = await check('a migrated SQLite file for the CLI', process.execPath, [
    '--input-type=module',
    '-e',
    "import { DataSource } from 'typeorm'; import { runChronicleMigrations } from '@chronicle/typeorm'; " +
      "const d = new DataSource({ type: 'better-sqlite3', database: 'cli.sqlite' }); await d.initialize(); await runChronicleMigrations(d); await d.destroy();",
  ], app);
  if (migrate.code === 0) {
    const status = await check('npx chronicle status --json (the bin of @chronicle/console)', npm, ['exec', '--offline', '--', 'chronicle', 'status', '--json', '--database-url', 'sqlite:cli.sqlite'], app);
    if (status.code === 0 && !/"headPosition": 0/.test(status.output)) {
      counts.passed--;
      counts.failed++;
      console.log(`  FAIL npx chronicle status --json printed no status:\n${status.output.replace(/^/gm, '       ')}`);
    }
  }

  // PostgreSQL + RabbitMQ.
  const missing = [await probe(postgresUrl).then((r) => r && `PostgreSQL ${r}`), await probe(amqpUrl).then((r) => r && `RabbitMQ ${r}`)].filter(Boolean);
  if (missing.length > 0 && !required) {
    skip('PostgreSQL + RabbitMQ app', `${missing.join('; ')} (set CI=true to make that a failure)`);
  } else {
    const more = await check('install pg and amqplib', npm, [...npmInstall, 'pg@8.23.1', '@types/pg@8.23.1', 'amqplib@2.3.1'], app);
    if (more.code === 0) {
      const compileAll = await check('tsc strict, no skipLibCheck (with the RabbitMQ publisher)', join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], app);
      figures.push(`tsc of the consumer app (everything): ${compileAll.seconds.toFixed(1)} s`);
      if (compileAll.code === 0) {
        await check('PostgreSQL + RabbitMQ app: the same, published through @chronicle/nestjs/rabbitmq', process.execPath, ['dist/src/main-postgres.js'], app, {
          CHRONICLE_PG_URL: postgresUrl,
          AMQP_URL: amqpUrl,
        });
      }
    }
  }
} catch (error) {
  console.log(`  stopped: ${error.message}`);
} finally {
  if (process.env.CONSUMER_KEEP !== '1') rmSync(work, { recursive: true, force: true });
}
for (const figure of figures) console.log(`  ${figure}`);
console.log(`consumer: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
if (process.env.CONSUMER_RESULTS) writeFileSync(process.env.CONSUMER_RESULTS, JSON.stringify(counts));
process.exit(counts.failed > 0 || counts.passed === 0 ? 1 : 0);
