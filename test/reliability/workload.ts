import request from 'supertest';
import type { Prng } from '../support/prng.js';

/** One command of the workload: what to send, and under which idempotency key. */
export type Operation =
  | { kind: 'open'; key: string; owner: string }
  | { kind: 'deposit'; key: string; account: string; amount: number }
  | { kind: 'withdraw'; key: string; account: string; amount: number }
  | { kind: 'close'; key: string; account: string }
  | { kind: 'transfer'; key: string; from: string; to: string; amount: number }
  /** A deposit with `If-Match: "1"`: stale once the account has moved (409). */
  | { kind: 'stale-deposit'; key: string; account: string; amount: number }
  /** The same request as an earlier operation, with its key: must get the same outcome. */
  | { kind: 'replay'; of: number; key: string };

/** How an operation ended, once its outcome is known. */
export interface Outcome {
  status: number;
  body: Record<string, unknown>;
  /** Sends after the first (unknown outcomes: connection errors and 503s). */
  retries: number;
}

/** An answer the harness saw, for the "no 5xx but an allowed 503" invariant. */
export interface Answer {
  at: number;
  status: number;
  message: string;
}

/** An instance clients can send to (its URL stays the same across restarts). */
export interface Target {
  url: string;
}

export const UNKNOWN_ACCOUNT = '0190f7d2-0000-7000-8000-0000000000ff';

/**
 * Builds `count` operations on `accounts` (opened first, separately), reproducibly from the PRNG.
 * Only the last quarter of the accounts is ever closed, so most of the workload moves money.
 */
export function generateOperations(random: Prng, accounts: readonly string[], count: number): Operation[] {
  const operations: Operation[] = [];
  const closable = accounts.slice(Math.floor((accounts.length * 3) / 4));
  for (let i = 0; i < count; i++) {
    const key = `op-${i}`;
    const roll = random.next();
    const account = random.pick(accounts);
    if (roll < 0.3) operations.push({ kind: 'deposit', key, account, amount: random.int(1, 1_000) });
    else if (roll < 0.45) operations.push({ kind: 'withdraw', key, account, amount: random.int(1, 1_500) });
    else if (roll < 0.75) {
      const to = random.chance(0.08) ? UNKNOWN_ACCOUNT : random.pick(accounts.filter((other) => other !== account));
      operations.push({ kind: 'transfer', key, from: account, to, amount: random.chance(0.1) ? random.int(5_000, 50_000) : random.int(1, 800) });
    } else if (roll < 0.85 && i > 10) {
      const of = random.int(0, i - 1);
      operations.push({ kind: 'replay', of, key: operations[of]!.key });
    } else if (roll < 0.95) operations.push({ kind: 'stale-deposit', key, account, amount: random.int(1, 100) });
    else if (roll < 0.96) operations.push({ kind: 'close', key, account: random.pick(closable) });
    else operations.push({ kind: 'deposit', key, account, amount: random.int(1, 1_000) });
  }
  return operations;
}

/** The request an operation sends. */
export function requestOf(operations: readonly Operation[], operation: Operation): { path: string; body?: object; headers: Record<string, string> } {
  const headers: Record<string, string> = { 'Idempotency-Key': operation.key };
  switch (operation.kind) {
    case 'open':
      return { path: '/accounts', body: { owner: operation.owner }, headers };
    case 'deposit':
      return { path: `/accounts/${operation.account}/deposits`, body: { amount: operation.amount }, headers };
    case 'stale-deposit':
      return { path: `/accounts/${operation.account}/deposits`, body: { amount: operation.amount }, headers: { ...headers, 'If-Match': '"1"' } };
    case 'withdraw':
      return { path: `/accounts/${operation.account}/withdrawals`, body: { amount: operation.amount }, headers };
    case 'close':
      return { path: `/accounts/${operation.account}/close`, headers };
    case 'transfer':
      return { path: '/transfers', body: { from: operation.from, to: operation.to, amount: operation.amount }, headers };
    case 'replay':
      return requestOf(operations, operations[operation.of]!);
  }
}

/**
 * Sends one operation until its outcome is known: a connection error, a reset or a 503 leaves it
 * unknown, so it is sent again with the same key (to a random instance) after a short pause.
 * Any other answer is the outcome. Gives up at `deadline` (the outcome stays undefined).
 */
export async function execute(
  operations: readonly Operation[],
  operation: Operation,
  targets: readonly Target[],
  random: Prng,
  answers: Answer[],
  deadline: number,
): Promise<Outcome | undefined> {
  const { path, body, headers } = requestOf(operations, operation);
  for (let retries = 0; Date.now() < deadline; retries++) {
    const target = random.pick(targets);
    try {
      let call = request(target.url).post(path).set(headers).timeout({ response: 15_000, deadline: 20_000 });
      if (body) call = call.send(body);
      const response = await call;
      const message = typeof response.body?.message === 'string' ? response.body.message : JSON.stringify(response.body?.message ?? '');
      answers.push({ at: Date.now(), status: response.status, message });
      if (response.status < 500 && response.status !== 0) return { status: response.status, body: response.body as Record<string, unknown>, retries };
    } catch {
      // No answer (the instance died or restarts): unknown, retried with the same key.
    }
    await new Promise((resolve) => setTimeout(resolve, 50 + random.int(0, 150)));
  }
  return undefined;
}
