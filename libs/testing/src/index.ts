// @chronicle/testing: fixtures for aggregates and sagas and a manual clock. They assert with
// node:assert and import no test runner, so they work under node --test, Vitest and Jest. The
// contract suites live at @chronicle/testing/contracts.
export * from './fixtures/aggregate.fixture.js';
export * from './fixtures/saga.fixture.js';
export * from './fixtures/manual-clock.js';
