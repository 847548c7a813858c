/** A test body: synchronous or async. */
export type ContractTestBody = () => void | Promise<void>;

/** The matchers the contract suites use, as Jest and Vitest both provide them. */
export interface ContractMatchers {
  toBe(expected: unknown): unknown;
  toEqual(expected: unknown): unknown;
  toMatchObject(expected: object): unknown;
  toHaveLength(length: number): unknown;
  toContain(item: unknown): unknown;
  toBeUndefined(): unknown;
  toBeDefined(): unknown;
  toBeNull(): unknown;
  toBeInstanceOf(type: unknown): unknown;
  toBeGreaterThan(value: number | bigint): unknown;
  toBeGreaterThanOrEqual(value: number | bigint): unknown;
  toBeLessThan(value: number | bigint): unknown;
  toBeLessThanOrEqual(value: number | bigint): unknown;
  toThrow(expected?: unknown): unknown;
}

/** What `expect(actual)` returns: the matchers, and the same negated or applied to a promise. */
export interface ContractExpectation extends ContractMatchers {
  /** The same matchers, negated. */
  not: ContractMatchers;
  /** The same matchers applied to the rejection of a promise. */
  rejects: ContractMatchers;
  /** The same matchers applied to the value of a promise. */
  resolves: ContractMatchers;
}

/** An `expect` like Jest's and Vitest's. */
export interface ContractExpect {
  (actual: unknown): ContractExpectation;
  /** Matches any instance of `type`. */
  any(type: unknown): unknown;
  /** Matches a string that matches `pattern`. */
  stringMatching(pattern: string | RegExp): unknown;
}

/**
 * The test runner the contract suites declare their tests with: Jest's or Vitest's `describe`,
 * `it`, `beforeEach`, `afterEach` and `expect` (`import { describe, it, ... } from 'vitest'`).
 * When a suite is called without one, it uses the runner's globals (Jest's by default, Vitest's
 * with `globals: true`).
 */
export interface ContractRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: ContractTestBody, timeoutMs?: number): unknown;
  beforeEach(body: ContractTestBody, timeoutMs?: number): unknown;
  afterEach(body: ContractTestBody, timeoutMs?: number): unknown;
  expect: ContractExpect;
}

let current: ContractRunner | undefined;

/**
 * Chooses the runner the suites' tests are declared with (internal: each suite calls it with the
 * runner it was given). The suites declare their tests when called and run their bodies later, so
 * the runner stays in place for the whole test file.
 */
export function useContractRunner(runner: ContractRunner | undefined): void {
  current = runner ?? globalRunner();
}

function globalRunner(): ContractRunner {
  const globals = globalThis as unknown as Partial<ContractRunner>;
  const { describe: d, it: i, beforeEach: b, afterEach: a, expect: e } = globals;
  if (typeof d !== 'function' || typeof i !== 'function' || typeof b !== 'function' || typeof a !== 'function' || typeof e !== 'function') {
    throw new Error(
      'The contract suites found no describe/it/beforeEach/afterEach/expect globals: pass your runner as the last argument, ' +
        "e.g. journalContract('mine', open, { describe, it, beforeEach, afterEach, expect }) with them imported from 'vitest'.",
    );
  }
  return { describe: d, it: i, beforeEach: b, afterEach: a, expect: e };
}

function runner(): ContractRunner {
  current ??= globalRunner();
  return current;
}

// The suites import these and not a runner's: each forwards to the runner in use.
/** The runner's `describe`. */
export const describe = (name: string, body: () => void): unknown => runner().describe(name, body);
/** The runner's `it` (with Jest's and Vitest's optional timeout). */
export const it = (name: string, body: ContractTestBody, timeoutMs?: number): unknown =>
  timeoutMs === undefined ? runner().it(name, body) : runner().it(name, body, timeoutMs);
/** The runner's `beforeEach`. */
export const beforeEach = (body: ContractTestBody, timeoutMs?: number): unknown =>
  timeoutMs === undefined ? runner().beforeEach(body) : runner().beforeEach(body, timeoutMs);
/** The runner's `afterEach`. */
export const afterEach = (body: ContractTestBody, timeoutMs?: number): unknown =>
  timeoutMs === undefined ? runner().afterEach(body) : runner().afterEach(body, timeoutMs);
/** The runner's `expect`, `expect.any` and `expect.stringMatching`. */
export const expect: ContractExpect = Object.assign((actual: unknown) => runner().expect(actual), {
  any: (type: unknown) => runner().expect.any(type),
  stringMatching: (pattern: string | RegExp) => runner().expect.stringMatching(pattern),
});
