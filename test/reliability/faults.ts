import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A fault the harness injected, with when it started and ended (epoch ms). */
export interface InjectedFault {
  name: string;
  startedAt: number;
  endedAt: number;
  detail: string;
  /** PostgreSQL did not answer during the fault, so 503s then (and shortly after) are expected. */
  databaseDown?: boolean;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 1_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, open: boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await portOpen(port)) !== open) {
    if (Date.now() > deadline) throw new Error(`${what} did not ${open ? 'come up' : 'go down'} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Restarts the local PostgreSQL cluster (fast shutdown: open transactions are rolled back and every
 * connection is cut), and waits until it accepts connections again.
 */
export async function restartPostgres(): Promise<InjectedFault> {
  const version = readdirSync('/etc/postgresql')[0];
  if (!version) throw new Error('No PostgreSQL cluster under /etc/postgresql');
  const startedAt = Date.now();
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart', '-m', 'fast'], { timeout: 60_000 });
  await run('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-t', '30'], { timeout: 35_000 });
  return { name: 'PostgreSQL restart', startedAt, endedAt: Date.now(), detail: `pg_ctlcluster ${version} main restart -m fast`, databaseDown: true };
}

/**
 * Stops the local PostgreSQL cluster (fast shutdown: every connection is cut), runs `whileDown`
 * (what must cope with the database gone, such as starting an instance), starts the cluster again
 * after `downMs`, and waits until it accepts connections; then awaits what `whileDown` started.
 */
export async function withPostgresDown<T>(
  downMs: number,
  whileDown: () => Promise<T>,
): Promise<{ result: T; startedAt: number; endedAt: number; version: string }> {
  const version = readdirSync('/etc/postgresql')[0];
  if (!version) throw new Error('No PostgreSQL cluster under /etc/postgresql');
  const startedAt = Date.now();
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'stop', '-m', 'fast'], { timeout: 60_000 });
  const pending = whileDown();
  // Observed below; a rejection meanwhile must not go unhandled while the cluster is down.
  pending.catch(() => undefined);
  try {
    await new Promise((resolve) => setTimeout(resolve, downMs));
  } finally {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { timeout: 60_000 });
    await run('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-t', '30'], { timeout: 35_000 });
  }
  const endedAt = Date.now();
  return { result: await pending, startedAt, endedAt, version };
}

/** Stops RabbitMQ's application (the AMQP port closes), waits `downMs`, and starts it again. */
export async function bounceRabbitMq(downMs: number): Promise<InjectedFault> {
  const startedAt = Date.now();
  await run('rabbitmqctl', ['stop_app'], { timeout: 60_000 });
  await waitForPort(5672, false, 30_000, 'RabbitMQ');
  await new Promise((resolve) => setTimeout(resolve, downMs));
  await run('rabbitmqctl', ['start_app'], { timeout: 60_000 });
  await waitForPort(5672, true, 60_000, 'RabbitMQ');
  return { name: 'RabbitMQ outage', startedAt, endedAt: Date.now(), detail: `rabbitmqctl stop_app, ${downMs} ms down, start_app` };
}
