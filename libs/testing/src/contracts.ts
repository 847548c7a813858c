// @chronicle/testing/contracts: one contract suite per port, to run against an implementation of
// it under Jest or Vitest (pass the runner's describe/it/beforeEach/afterEach/expect, or rely on its
// globals). Kept apart from the fixtures so that those load under any runner.
export type { ContractExpect, ContractExpectation, ContractMatchers, ContractRunner, ContractTestBody } from './contracts/contract-runner.js';
export * from './contracts/journal.contract.js';
export * from './contracts/snapshot-store.contract.js';
export * from './contracts/outbox-store.contract.js';
export * from './contracts/checkpoint-store.contract.js';
export * from './contracts/saga-store.contract.js';
export * from './contracts/key-store.contract.js';
export * from './contracts/event-query.contract.js';
