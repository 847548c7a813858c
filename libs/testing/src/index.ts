export * from './contracts/journal.contract.js';
export * from './contracts/snapshot-store.contract.js';
export * from './contracts/outbox-store.contract.js';
export * from './contracts/checkpoint-store.contract.js';
export * from './contracts/saga-store.contract.js';
export * from './fixtures/aggregate.fixture.js';
export * from './fixtures/saga.fixture.js';
export * from './fixtures/manual-clock.js';
