import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The master key every launched demo (and the CLI beside it) gets unless a test sets its own. */
export const TEST_MASTER_KEY_ENV = { CHRONICLE_MASTER_KEY: Buffer.alloc(32, 42).toString('base64') };

/** The compiled demo (`dist/apps/demo/src/main.js`) running as its own OS process. */
export interface DemoProcess {
  child: ChildProcess;
  url: string;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the compiled demo with `env` on a free port (or `port`), and resolves once it listens.
 * Run `npm run build` first. AMQP_URL is cleared unless `env` sets it; CHRONICLE_MASTER_KEY is a fixed test key unless `env` sets it.
 */
export async function launchDemo(env: Record<string, string>, port?: number): Promise<DemoProcess> {
  const listenOn = port ?? (await freePort());
  const child = spawn(process.execPath, ['dist/apps/demo/src/main.js'], {
    // A fixed test master key unless `env` sets one (on PostgreSQL the demo refuses to start without).
    env: { ...process.env, NODE_OPTIONS: '', AMQP_URL: '', PORT: String(listenOn), ...TEST_MASTER_KEY_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${listenOn}`;
  const deadline = Date.now() + 30_000;
  while (!output.includes('Chronicle demo bank on')) {
    if (child.exitCode !== null) throw new Error(`The demo exited at start:\n${output}`);
    if (Date.now() > deadline) throw new Error(`The demo did not start in 30 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, url, port: listenOn, output: () => output, exited };
}

/**
 * Compiles the demo (`npm run build`), one build at a time across the test processes of this
 * checkout: jest runs test files in parallel workers, and two builds writing `dist/` at once can
 * leave a half-written file for the other's demo to load.
 */
export async function buildDemo(): Promise<void> {
  const lock = join(tmpdir(), `chronicle-build-${createHash('sha256').update(process.cwd()).digest('hex').slice(0, 16)}.lock`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than any build is left by a killed run.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 240_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Another build held ${lock} for 5 minutes.`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    execFileSync('npm', ['run', 'build'], { stdio: 'pipe', timeout: 180_000 });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
