import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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
 * Run `npm run build` first. AMQP_URL is cleared unless `env` sets it.
 */
export async function launchDemo(env: Record<string, string>, port?: number): Promise<DemoProcess> {
  const listenOn = port ?? (await freePort());
  const child = spawn(process.execPath, ['dist/apps/demo/src/main.js'], {
    env: { ...process.env, NODE_OPTIONS: '', AMQP_URL: '', PORT: String(listenOn), ...env },
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
